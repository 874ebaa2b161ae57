# Sourced by stage1 for MODE=scenario.  Variables from the job: SCENARIO, KIND
# (correctable|nonfatal|fatal|fatal-up|fatal-during|slotoff|device_del), KINDS (one KIND per error, when
# the errors of a boot differ), REPEAT, RESET (""|device|hot), TRACER, EPS (endpoints on vfio-pci),
# HOSTDEVS (DEV=driver: endpoints on a host driver, traced too), LABUSER (vfio-user|qemu).
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
	devargs=""
	for e in $EPS; do devargs="$devargs --device $e"; done
	# devices on host drivers under the same port are traced too (two-drivers)
	for hd in ${HOSTDEVS:-}; do devargs="$devargs --device ${hd%%=*}"; done
	/usr/bin/python3 /aertrace/agent/aertrace-agent $devargs ${AGENT_EXTRA:-} -o $TRACE 2>/out/agent.err &
	TRACER_PID=$!
	# 900 s: at load 15-28 on the 2-core build machine bcc's compile under TCG took 180-300 s and more
	if ! wait_for ${AGENT_WAIT:-900} sh -c "grep -q 'aertrace-agent: ready' /out/agent.err || ! kill -0 $TRACER_PID" ||
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

# Slot power off under the user (removal-slotoff): Slot Control of the port above the endpoint,
# Power Controller Control = off and Power Indicator = off, then at once the old value again. QEMU
# (pcie_cap_slot_write_config) detaches the card on the power-off write and raises Presence Detect
# Changed: a yanked card, with slot power on as in a real surprise removal. The power-off write
# masks the slot's interrupts, the second write restores them: when pciehp's handler ran between two
# writes (two setpci runs, or two pwrites 46 us apart: the Command Completed interrupt of the first
# write woke it), it found the slot powered off, said "Slot(1): Card not present" / "Slot(1): Already
# disabled", and removed nothing (6.1: the device stayed bound, every read all-ones, and the user's
# close stalled ~280 s in FLR/bus-reset waits: testdata/lab/6.1/slotoff-not-removed).
slot_off() {
	port=$(basename "$(readlink -f /sys/bus/pci/devices/$EP/..)")
	/usr/bin/python3 - /sys/bus/pci/devices/$port/config <<'PY' >>$LAB/guest.log
import os, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
rd = lambda off, n: int.from_bytes(os.pread(fd, n, off), "little")
cap = rd(0x34, 1) & 0xfc
while cap and rd(cap, 1) != 0x10:
    cap = rd(cap + 1, 1) & 0xfc
sltctl = cap + 0x18
before = rd(sltctl, 2)
t0 = time.monotonic_ns()
# PCC off + power indicator off, with Hot-Plug Interrupt Enable and Command Completed Interrupt Enable
# cleared so this write raises no interrupt; the second write (the old value) completes a command with
# interrupts on again, and pciehp finds Presence Detect Changed with the slot powered
os.pwrite(fd, struct.pack("<H", (before | 0x0700) & ~0x0030), sltctl)
os.pwrite(fd, struct.pack("<H", before), sltctl)
t1 = time.monotonic_ns()
print("slot_off: port Slot Control at 0x%x: 0x%04x -> 0x%04x -> 0x%04x between %d and %d ns" % (
    sltctl, before, before | 0x0700, rd(sltctl, 2), t0, t1))
PY
	say "slot power pulsed off: $(tail -1 $LAB/guest.log); endpoint vendor now $(setpci -s ${EP#0000:} 0.w 2>/dev/null)"
}

# Debian's QEMU as the user (qemu-*): -device vfio-pci on the endpoint, the nested guest
# lab/nested/poll.c under TCG, QMP on a socket in /tmp, its log and debugcon in /out.
QSOCK=/tmp/nested-qmp.sock
QLOG=/out/qemu-user.log
start_nested() {
	cp $LAB/poll.elf /tmp/poll.elf
	qemu-system-x86_64 -accel tcg -machine q35 -m 64 -nodefaults -display none -no-user-config \
		-kernel /tmp/poll.elf -append "delay=${POLL_DELAY:-2000}${POLL_ARGS:+ $POLL_ARGS}" \
		-device vfio-pci,host=$EP,bus=pcie.0,addr=4,rombar=0${NESTED_DEV:+,$NESTED_DEV} \
		-debugcon file:/out/debugcon.log -qmp unix:$QSOCK,server=on,wait=off >/out/qemu.out 2>&1 &
	UPID=$!
	if ! wait_for 300 grep -q "poll: n=" /out/debugcon.log; then
		say "nested guest did not start polling: $(cat /out/qemu.out) $(head -c 300 /out/debugcon.log)"
		return 1
	fi
	say "nested QEMU (pid $UPID) running: $(head -1 /out/debugcon.log)"
	/usr/bin/python3 /aertrace/lab/guest/qmp.py $QSOCK $QLOG query-status >/dev/null
}

stop_nested() {
	st=$(/usr/bin/python3 /aertrace/lab/guest/qmp.py $QSOCK $QLOG query-status)
	say "nested QEMU status after the error: $st; $(grep -c . /out/qemu.out) lines on its stderr: $(head -c 300 /out/qemu.out)"
	# what an operator does with a VM stopped in internal-error: reset and continue it
	st=$(/usr/bin/python3 /aertrace/lab/guest/qmp.py $QSOCK $QLOG system_reset cont sleep=3 query-status)
	say "nested QEMU after system_reset + cont: $st"
	/usr/bin/python3 /aertrace/lab/guest/qmp.py $QSOCK $QLOG quit >/dev/null 2>&1
	wait $UPID
	# QEMU's own words (error_report on stderr) beside its QMP view
	sed 's/^/qemu-stderr: /' /out/qemu.out >>$QLOG
}

# error-during-recovery: 3 s more for a second recovery, then the second error's trace in the ports' AER
# registers, written to the kernel log (kept beside the trace as <scenario>.dmesg.gz): the downstream port's
# Uncorrectable Error Status still holding the DLP nobody reported, the root port's Root Error Status
after_during() {
	sleep 3
	n=$(( $(recoveries) - $1 ))
	/usr/bin/python3 - $n <<'PY' | tee -a $LAB/guest.log >/dev/kmsg
import sys
def aer(dev):
    cfg = open("/sys/bus/pci/devices/%s/config" % dev, "rb").read()
    off = 0x100
    while off and off + 4 <= len(cfg):
        hdr = int.from_bytes(cfg[off:off + 4], "little")
        if hdr & 0xffff == 1:
            return lambda r: int.from_bytes(cfg[off + r:off + r + 4], "little")
        off = hdr >> 20
    return None
dn, rp = aer("0000:02:00.0"), aer("0000:00:02.0")
print("aertrace-lab: error-during-recovery: %s recoveries; 0000:02:00.0 AER UESta=0x%08x; "
      "0000:00:02.0 Root Error Status=0x%08x Error Source=0x%08x" % (sys.argv[1], dn(4), rp(0x30), rp(0x34)))
PY
	say "after the second error: $(tail -1 $LAB/guest.log)"
}

run_scenario() {
	rc=0
	[ "${LABUSER:-vfio-user}" = qemu ] && AGENT_EXTRA="--qemu /usr/bin/qemu-system-x86_64"
	case "${TRACER:-auto}" in
	auto) if [ -e /aertrace/agent/aertrace-agent ]; then TRACER=agent; else TRACER=bpftrace; fi ;;
	esac
	case "$TRACER" in
	agent) start_agent || return 1 ;;
	bpftrace) start_bpftrace || return 1 ;;
	none) TRACER_PID= ;;
	esac
	if [ "${LABUSER:-vfio-user}" = qemu ]; then
		start_nested || return 1
	else
		uargs="--log $ULOG"
		for e in $EPS; do uargs="$uargs --dev $e"; done
		[ -n "$RESET" ] && uargs="$uargs --reset $RESET"
		[ -n "${USER_ARGS:-}" ] && uargs="$uargs $USER_ARGS"
		$VU $uargs 2>/out/vfio-user.err &
		UPID=$!
		if ! wait_for 30 grep -q "ev=ready" $ULOG; then
			say "vfio-user not ready:"; cat /out/vfio-user.err; return 1
		fi
		say "vfio-user ready (pid $UPID): $(grep ev=armed $ULOG | head -1)"
	fi
	sleep 1
	lspci -tv >$LAB/lspci-tree.txt 2>&1
	i=1
	while [ $i -le $REPEAT ]; do
		# KINDS (lab/run "kinds"): one injection kind per error, in order
		[ -n "${KINDS:-}" ] && KIND=$(echo $KINDS | cut -d' ' -f$i)
		# fatal-during injects two errors in one request; the second lands while the first recovery's
		# aer_root_reset has the root port's error interrupts off, and the kernel clears the Root Error
		# Status when the reset ends: one recovery is all that follows (seen on 6.1), so wait for one and
		# let after_during tell whether a second came
		expect=1
		lspci -vvv >$LAB/lspci-before-$i.txt 2>&1
		before=$(recoveries)
		if [ "${LABUSER:-vfio-user}" != qemu ]; then
			n=$(armed_count)
			kill -USR1 $UPID
			wait_for 10 sh -c "[ \$(grep -c ev=armed $ULOG) -gt $n ]" || { say "vfio-user did not arm"; rc=1; break; }
			say "error $i/$REPEAT ($KIND): $(grep ev=armed $ULOG | tail -1 | sed 's/.*ev=armed //')"
		else
			say "error $i/$REPEAT ($KIND) while the nested QEMU owns $EP"
		fi
		if [ "$KIND" = slotoff ] || [ "$KIND" = device_del ]; then
			if [ "$KIND" = slotoff ]; then
				slot_off
			else
				echo $KIND >$LAB/req.tmp && mv $LAB/req.tmp $LAB/inject.$i
				if ! wait_for 30 test -e $LAB/injected.$i; then say "host did not inject"; rc=1; break; fi
				say "host: $(cat $LAB/injected.$i)"
			fi
			if wait_for 60 sh -c "[ ! -e /sys/bus/pci/devices/$EP ]"; then
				say "removed: $EP is gone from sysfs; $(grep -E 'ev=(request|released)' $ULOG | tr '\n' ' ' | cut -c1-400)"
			else
				say "$EP still present 60 s after the removal request"
				rc=1
			fi
			sleep 2
		elif [ "$KIND" = correctable ]; then
			inject_correctable || { rc=1; break; }
			sleep 2
		else
			echo $KIND >$LAB/req.tmp && mv $LAB/req.tmp $LAB/inject.$i
			if ! wait_for 30 test -e $LAB/injected.$i; then say "host did not inject"; rc=1; break; fi
			res=$(cat $LAB/injected.$i)
			case "$res" in *" ok"*) ;; *) say "injection failed: $res"; rc=1; break ;; esac
			if wait_for 60 sh -c "[ \$(dmesg | grep -c 'AER: device recovery') -ge $((before + expect)) ]"; then
				say "recovery $i: $(dmesg | grep 'AER: device recovery' | tail -$expect | tr '\n' ' ')"
			else
				say "no recovery message within 60 s after injection $i"
				lspci -vvv -s 00:02.0 >$LAB/lspci-rp-$i.txt 2>&1
				lspci -vvv -s 01:00.0 >$LAB/lspci-ep-$i.txt 2>&1
				rc=1
				break
			fi
			sleep 1.5
			[ "$KIND" = fatal-during ] && after_during $before
		fi
		i=$((i + 1))
	done
	if [ "${LABUSER:-vfio-user}" = qemu ]; then
		stop_nested
	else
		kill -INT $UPID; wait $UPID
		say "vfio-user: $(grep ev=summary $ULOG | tail -1)"
	fi
	if [ -n "$TRACER_PID" ]; then
		sleep 1
		kill -INT $TRACER_PID
		_t=300; while kill -0 $TRACER_PID 2>/dev/null && [ $_t -gt 0 ]; do sleep 0.1; _t=$((_t-1)); done
		kill -0 $TRACER_PID 2>/dev/null && { say "tracer did not stop, killing"; kill -9 $TRACER_PID; rc=1; }
		wait $TRACER_PID 2>/dev/null
		say "tracer stopped"
	fi
	dmesg | grep -E "AER|aer|vfio|pcieport|pciehp" >/out/dmesg-aer.txt
	return $rc
}
