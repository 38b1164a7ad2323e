"""newsflow tasks: one module per pipeline stage; plain functions plus thin Prefect tasks."""
