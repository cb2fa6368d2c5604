"""The console's read queries for its pages, one module per page: each gathers rows from
several features in one transaction and writes nothing."""
