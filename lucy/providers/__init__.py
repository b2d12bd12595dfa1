"""Where tools run: the provider protocol, resilience (timeouts, retries, breaker), the demo
provider."""
