# host-local: ADD+DEL latency vs number of reservations, ours vs the reference.
bench-extra::
	./ipam/host-local/bench/bench.sh
