"""The data: build records, statements, predicates and their schemas."""
