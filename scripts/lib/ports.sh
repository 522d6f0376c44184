# ports.sh — sourced by the scripts that start a private nginx; picks TCP ports for it.
#
#   port_in_use PORT        true when something listens on PORT (127.0.0.1 or any address)
#   free_port [EXCLUDE...]  prints a port nothing listens on, not one of EXCLUDE; returns 1 after
#                           200 tries
#
# The ports come from 20000-31999, below the kernel's ephemeral range (32768-60999 on Debian): a
# port in that range can be taken by any outgoing connection between this check and nginx's bind,
# which is how a test once failed with "bind() ... (98: Address already in use)". Two scripts
# running at once can still pick the same port: a caller that must not fail retries its bind.

port_in_use() {
	if command -v ss >/dev/null 2>&1; then
		[[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]
	else
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
	fi
}

free_port() {
	local i p
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
		[[ " $* " == *" $p "* ]] && continue
		port_in_use "$p" || {
			printf '%s\n' "$p"
			return 0
		}
	done
	return 1
}
