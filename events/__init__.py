"""Events: builders, subjects, the protobuf wire schema, emit() and its after-commit listeners."""
