-- The customers of examples/help-answer: replaces the table example_help_customers, nothing else.
DROP TABLE IF EXISTS example_help_customers;
CREATE TABLE example_help_customers (id int PRIMARY KEY, name text NOT NULL, plan text NOT NULL);
INSERT INTO example_help_customers VALUES (1, 'Ada', 'premium'), (2, 'Edsger', 'basic');
