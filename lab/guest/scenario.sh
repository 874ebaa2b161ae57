# Sourced by stage1 for MODE=scenario.  Variables from the job: SCENARIO, KIND
# (correctable|nonfatal|fatal), REPEAT, RESET (""|device|hot), TRACER.
# The guest conducts: it starts the tracer and the vfio user, arms the endpoint,
# asks the host to inject (file $LAB/inject.N, answered by $LAB/injected.N),
# waits for the recovery to finish, repeats, then stops everything cleanly.

VU=$LAB/vfio-user
ULOG=/out/user.log
TRACE=/out/$SCENARIO.jsonl

# wait_for SECONDS COMMAND... : poll until COMMAND succeeds, at most SECONDS of
# guest uptime (a deadline, not a count: under TCG each poll costs 0.1-0.5 s)
wait_for() {
	read _up _x </proc/uptime; _end=$(( ${_up%.*} + $1 )); shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		read _up _x </proc/uptime
		[ ${_up%.*} -ge $_end ] && return 1
		sleep 0.1
	done
}

recoveries() { dmesg | grep -c "AER: device recovery"; }
armed_count() { grep -c "ev=armed" $ULOG; }

start_agent() {
	say "starting agent"
	/usr/bin/python3 /aertrace/agent/aertrace-agent --device $EP -o $TRACE 2>/out/agent.err &
	TRACER_PID=$!
	# 600 s: at load 15 on the 2-core build machine bcc's compile under TCG took over 300 s
	if ! wait_for 600 sh -c "grep -q 'aertrace-agent: ready' /out/agent.err || ! kill -0 $TRACER_PID" ||
		! kill -0 $TRACER_PID; then
		say "agent not ready: $(tail -c 600 /out/agent.err)"; return 1
	fi
	say "agent ready"
}

# Lab self-check only (until/unless the agent runs): a bpftrace one-liner over the
# probes that exist on this kernel, so a scenario can be proven without the agent.
start_bpftrace() {
	out=/out/$SCENARIO.bpftrace.txt
	prog=""
	for f in pcie_do_recovery report_frozen_detected report_normal_detected report_error_detected \
		report_mmio_enabled report_slot_reset report_resume aer_root_reset pci_bus_error_reset \
		pci_reset_secondary_bus vfio_pci_core_aer_err_detected vfio_pci_aer_err_detected \
		pci_cfg_access_lock pci_cfg_access_unlock vfio_pci_core_ioctl vfio_pci_ioctl \
		pci_try_reset_function pci_reset_bus; do
		grep -qw "^$f" /sys/kernel/tracing/available_filter_functions || continue
		prog="$prog kprobe:$f { printf(\"%lld %s enter tid=%d comm=%s\\n\", nsecs, probe, tid, comm); }"
		prog="$prog kretprobe:$f { printf(\"%lld %s exit ret=%d\\n\", nsecs, probe, retval); }"
	done
	for f in vfio_pci_core_read vfio_pci_read; do
		grep -qw "^$f" /sys/kernel/tracing/available_filter_functions || continue
		prog="$prog kprobe:$f { @t[tid] = nsecs; } kretprobe:$f /@t[tid]/ { printf(\"%lld cfgread tid=%d dur_ns=%lld ret=%d\\n\", nsecs, tid, nsecs - @t[tid], retval); delete(@t[tid]); }"
	done
	prog="$prog tracepoint:ras:aer_event { printf(\"%lld aer_event severity=%d status=0x%x\\n\", nsecs, args->severity, args->status); }"
	echo "$prog" >/out/$SCENARIO.bpftrace.prog
	bpftrace -e "$prog" >$out 2>/out/bpftrace.err &
	TRACER_PID=$!
	if ! wait_for 300 sh -c "grep -q Attaching $out || ! kill -0 $TRACER_PID" || ! kill -0 $TRACER_PID; then
		say "bpftrace did not start: $(head -c 400 /out/bpftrace.err)"; return 1
	fi
	sleep 2
	say "bpftrace attached: $(head -1 $out)"
}

inject_correctable() {
	# QEMU 7.2 drops correctable errors injected with -c; use the kernel's aer_inject
	# (done last: its shim keeps shadowing the AER registers afterwards).
	modprobe aer_inject || { say "modprobe aer_inject failed"; return 1; }
	/usr/bin/python3 - <<'PY'
import struct
# struct aer_error_inj { u8 bus, dev, fn; u32 uncor_status, cor_status, header_log0..3; int domain; }
rec = struct.pack("@BBBxIIIIIIi", 1, 0, 0, 0, 0x00000040, 0, 0, 0, 0, 0)  # Bad TLP
with open("/dev/aer_inject", "wb", buffering=0) as f:
    f.write(rec)
print("aer_inject: correctable Bad TLP on 0000:01:00.0")
PY
}

run_scenario() {
	rc=0
	case "${TRACER:-auto}" in
	auto) if [ -e /aertrace/agent/aertrace-agent ]; then TRACER=agent; else TRACER=bpftrace; fi ;;
	esac
	case "$TRACER" in
	agent) start_agent || return 1 ;;
	bpftrace) start_bpftrace || return 1 ;;
	none) TRACER_PID= ;;
	esac
	uargs="--dev $EP --log $ULOG"
	[ -n "$RESET" ] && uargs="$uargs --reset $RESET"
	[ -n "${USER_ARGS:-}" ] && uargs="$uargs $USER_ARGS"
	$VU $uargs 2>/out/vfio-user.err &
	UPID=$!
	if ! wait_for 30 grep -q "ev=ready" $ULOG; then
		say "vfio-user not ready:"; cat /out/vfio-user.err; return 1
	fi
	say "vfio-user ready (pid $UPID): $(grep ev=armed $ULOG | head -1)"
	sleep 1
	i=1
	while [ $i -le $REPEAT ]; do
		lspci -vvv -s 00:02.0 >$LAB/lspci-rp-before-$i.txt 2>&1
		n=$(armed_count)
		kill -USR1 $UPID
		wait_for 10 sh -c "[ \$(grep -c ev=armed $ULOG) -gt $n ]" || { say "vfio-user did not arm"; rc=1; break; }
		before=$(recoveries)
		say "error $i/$REPEAT ($KIND): $(grep ev=armed $ULOG | tail -1 | sed 's/.*ev=armed //')"
		if [ "$KIND" = correctable ]; then
			inject_correctable || { rc=1; break; }
			sleep 2
		else
			echo $KIND >$LAB/req.tmp && mv $LAB/req.tmp $LAB/inject.$i
			if ! wait_for 30 test -e $LAB/injected.$i; then say "host did not inject"; rc=1; break; fi
			res=$(cat $LAB/injected.$i)
			case "$res" in *" ok"*) ;; *) say "injection failed: $res"; rc=1; break ;; esac
			if wait_for 60 sh -c "[ \$(dmesg | grep -c 'AER: device recovery') -gt $before ]"; then
				say "recovery $i: $(dmesg | grep 'AER: device recovery' | tail -1)"
			else
				say "no recovery message within 60 s after injection $i"
				lspci -vvv -s 00:02.0 >$LAB/lspci-rp-$i.txt 2>&1
				lspci -vvv -s 01:00.0 >$LAB/lspci-ep-$i.txt 2>&1
				rc=1
				break
			fi
			sleep 1.5
		fi
		i=$((i + 1))
	done
	kill -INT $UPID; wait $UPID
	say "vfio-user: $(grep ev=summary $ULOG | tail -1)"
	if [ -n "$TRACER_PID" ]; then
		sleep 1
		kill -INT $TRACER_PID
		_t=300; while kill -0 $TRACER_PID 2>/dev/null && [ $_t -gt 0 ]; do sleep 0.1; _t=$((_t-1)); done
		kill -0 $TRACER_PID 2>/dev/null && { say "tracer did not stop, killing"; kill -9 $TRACER_PID; rc=1; }
		wait $TRACER_PID 2>/dev/null
		say "tracer stopped"
	fi
	dmesg | grep -E "AER|aer|vfio|pcieport" >/out/dmesg-aer.txt
	return $rc
}
