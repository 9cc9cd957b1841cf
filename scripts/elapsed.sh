# Sourced by scripts that time their steps. now_ns prints a clock in
# nanoseconds; elapsed START prints the time since START as make dev and
# tokenctl print durations (internal/humandur): "850ms", "4.2s", "1m32s",
# "1h5m".
now_ns() { date +%s%N; }

elapsed() {
	local ms=$((($(now_ns) - $1) / 1000000))
	if [ "$ms" -lt 1000 ]; then
		echo "${ms}ms"
	elif [ "$ms" -lt 10000 ]; then
		local tenths=$(((ms + 50) / 100))
		if [ $((tenths % 10)) = 0 ]; then echo "$((tenths / 10))s"; else echo "$((tenths / 10)).$((tenths % 10))s"; fi
	else
		local s=$(((ms + 500) / 1000))
		if [ "$s" -lt 3600 ]; then
			if [ $((s % 60)) = 0 ]; then echo "$((s / 60))m"; elif [ "$s" -lt 60 ]; then echo "${s}s"; else echo "$((s / 60))m$((s % 60))s"; fi
		else
			local m=$(((s + 30) / 60))
			if [ $((m % 60)) = 0 ]; then echo "$((m / 60))h"; else echo "$((m / 60))h$((m % 60))m"; fi
		fi
	fi
}
