"""newsflow warehouse: the DuckDB schema (migrations), connections and every SQL statement."""
