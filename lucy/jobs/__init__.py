"""Scheduled jobs: plain async functions, a lock per job across replicas, the scheduler."""
