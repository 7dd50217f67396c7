"""The provincial office's side (R21, R22): audit-item outcomes and threshold alerts."""
