-- Whether the warehouse keeps any fetched page: a reclean of none needs no extraction pool.
SELECT EXISTS (SELECT 1 FROM pages);
