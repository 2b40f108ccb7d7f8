"""The shared kernel: errors, API helpers, paging, time, crypto. Imports nothing of the apps."""
