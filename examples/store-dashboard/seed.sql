-- Sample data for the store-dashboard example. Safe to run again: it replaces its own tables.
--   psql "$DATABASE_URL" -f examples/store-dashboard/seed.sql
SET client_min_messages = warning;
DROP TABLE IF EXISTS example_orders;
DROP TABLE IF EXISTS example_products;
DROP TABLE IF EXISTS example_customers;

CREATE TABLE example_customers (
  id serial PRIMARY KEY,
  name text NOT NULL,
  joined date NOT NULL
);

CREATE TABLE example_products (
  id serial PRIMARY KEY,
  name text NOT NULL,
  price numeric(10, 2) NOT NULL
);

CREATE TABLE example_orders (
  id serial PRIMARY KEY,
  customer_id int NOT NULL REFERENCES example_customers (id),
  product_id int NOT NULL REFERENCES example_products (id),
  quantity int NOT NULL,
  placed date NOT NULL
);

INSERT INTO example_customers (name, joined) VALUES
  ('Ada', DATE '2026-01-05'),
  ('Grace', DATE '2026-03-14'),
  ('Edsger', DATE '2026-06-01'),
  ('Barbara', DATE '2026-11-20');

INSERT INTO example_products (name, price) VALUES
  ('Keyboard', 49.90),
  ('Monitor', 189.00),
  ('Cable', 4.50);

INSERT INTO example_orders (customer_id, product_id, quantity, placed) VALUES
  (1, 1, 1, DATE '2026-11-02'),
  (1, 3, 4, DATE '2026-11-02'),
  (2, 2, 2, DATE '2026-11-18'),
  (3, 3, 10, DATE '2026-11-25'),
  (4, 1, 2, DATE '2026-11-28'),
  (4, 2, 1, DATE '2026-11-29');
