"""The console's read queries for its pages, one module per page; each function one transaction."""
