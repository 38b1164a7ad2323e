INSERT INTO articles BY NAME SELECT * FROM incoming_articles;
