# High availability: Redis Sentinel, for the failover tests in tests/integration/ha/.

# redis-sentinel from Debian; idempotent, and stops the packaged daemon (the tests run their own).
tools::
	bash scripts/install-redis-sentinel.sh
