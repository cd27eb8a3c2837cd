# Sourced by the bench scripts (after they cd to the repository root).

# A free TCP port on loopback.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The prefix that runs a server under test, and its peer, at the same raised priority
# (nice -10, when allowed), so the machine's other services (RabbitMQ's schedulers wake
# on cpu 0 every few ms) preempt them less: the tail then measures the servers, not the
# neighbours. NICE=0 turns it off.
NICE="${NICE:--10}"
SERVER_PRIORITY=""
if [ "$NICE" != 0 ] && nice -n "$NICE" true 2>/dev/null; then SERVER_PRIORITY="nice -n $NICE"; fi
