-- Reserve ? fetch ids so articles can point at the fetch that produced them.
SELECT nextval('fetch_ids') FROM range(?);
