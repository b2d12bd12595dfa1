"""Offline retrieval evaluation: datasets, metrics, retrievers side by side, reports."""
