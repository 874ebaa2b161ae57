/*
 * vfio-user: a small user program that holds a PCI device through vfio-pci the
 * way QEMU does for an assigned device, for the aertrace lab.
 *
 *  - container / group / device fds, TYPE1 IOMMU;
 *  - the AER error eventfd registered with VFIO_DEVICE_SET_IRQS on
 *    VFIO_PCI_ERR_IRQ_INDEX (what QEMU's vfio_register_err_notifier does);
 *  - a "vCPU" thread reading config space through the config region in a loop
 *    (COMMAND and the AER Uncorrectable Error Status), like a guest driver polling;
 *  - a "main loop" thread blocked on the eventfd: when it fires it reads the AER
 *    uncorrectable status at once (what vfio_err_notifier_handler and a guest's
 *    error_detected would do first), optionally followed by VFIO_DEVICE_RESET or
 *    VFIO_DEVICE_PCI_HOT_RESET (the double-reset scenario);
 *  - on SIGUSR1 it sets the endpoint's Device Control error-reporting enables
 *    (0x000f) through the config region, as a guest driver does through QEMU,
 *    because vfio-pci leaves them 0 and every bus reset clears them;
 *  - several functions of one group (--dev repeated: a multi-function device
 *    assigned whole, as QEMU requires): one container and group, per function a
 *    device fd, an error eventfd and a request eventfd; the read loop polls every
 *    function in turn;
 *  - the device request IRQ (VFIO_PCI_REQ_IRQ_INDEX, QEMU's
 *    vfio_register_req_notifier): when the host wants the device back (hot
 *    removal, unbind) it keeps reading for --release-delay-ms (a guest still
 *    using the device while QEMU unplugs it) and then closes the device fd, which
 *    lets the kernel's removal finish;
 *  - --reset-retry-ms: a refused VFIO_DEVICE_RESET (EAGAIN while the host's
 *    recovery holds the device lock) is retried until it succeeds.
 *
 * Every line of the log carries CLOCK_MONOTONIC ns (the clock of
 * bpf_ktime_get_ns(), so it lines up with the agent's trace).
 *
 * Built statically by the lab with the host's gcc, so one binary runs in every
 * guest userland.  Usage: vfio-user --dev 0000:01:00.0 [options], see usage().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MAXDEV 4
struct vdev {
	const char *name;
	int fd;                  /* device fd, -1 once released */
	off_t cfgoff;
	int aercap, expcap;
	int errfd, req_fd;
	atomic_int release;      /* request seen: close after release_delay */
	long release_at_ns;
	long n_reads, n_ones;
	long first_ones_ns, last_ones_ns;
	uint32_t prev_cmd, prev_st;
};
static struct vdev devs[MAXDEV];
static int ndev;
static const char *dev_name = "0000:01:00.0";   /* the device being set up (messages) */
static long interval_us = 2000;     /* pause between two config reads; 0 = full rate */
static long burst_ms = 500;         /* log every read this long after a notification */
static long held_ns = 20000000;     /* a read slower than this is logged as held (TCG jitter reaches ~5 ms) */
static const char *reset_mode = "none";
static long reset_delay_us = 0;
static int reset_first;             /* reset before reading the status (guest driver's reset path) */
static long reset_retry_ms = -1;    /* retry a refused (EAGAIN) reset every N ms; -1: no retry */
static long release_delay_ms = 100; /* keep using a device this long after the host's request */

static int container_fd = -1, group_fd = -1;
/* the device the helpers below act on (set per call site; the read loop and the notifier
 * thread each pass their own struct vdev) */
#define device_fd (d->fd)
#define cfg_off (d->cfgoff)
#define aer_cap (d->aercap)
#define exp_cap (d->expcap)
#define err_fd (d->errfd)
static FILE *logf;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static atomic_int stop;
static atomic_int arm_requests;
static atomic_int mark_requests;
static atomic_long last_notify_ns;
static atomic_long notifications;

/* read-loop statistics */
static long n_reads, n_ones, n_held, n_errors;
static long max_lat_ns;

static long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void ulog(const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&log_lock);
	fprintf(logf, "ts=%ld tid=%d ", now_ns(), gettid());
	va_start(ap, fmt);
	vfprintf(logf, fmt, ap);
	va_end(ap);
	fputc('\n', logf);
	fflush(logf);
	pthread_mutex_unlock(&log_lock);
}

static void die(const char *what)
{
	fprintf(stderr, "vfio-user: %s: %s\n", what, strerror(errno));
	if (logf)
		ulog("ev=fatal what=\"%s\" errno=%d", what, errno);
	exit(2);
}

/* config access through the vfio config region; returns -errno or bytes */
static int cfg_read(struct vdev *d, int off, int size, uint32_t *val, long *lat)
{
	uint32_t v = 0;
	long t0 = now_ns();
	ssize_t r = pread(device_fd, &v, size, cfg_off + off);
	long t1 = now_ns();
	if (lat)
		*lat = t1 - t0;
	*val = v;
	return r < 0 ? -errno : (int)r;
}

static int cfg_write(struct vdev *d, int off, int size, uint32_t val)
{
	ssize_t r = pwrite(device_fd, &val, size, cfg_off + off);
	return r < 0 ? -errno : (int)r;
}

static void find_caps(struct vdev *d)
{
	uint32_t v;
	int pos, guard = 0;

	if (cfg_read(d, PCI_CAPABILITY_LIST, 1, &v, NULL) != 1)
		die("read capability pointer");
	for (pos = v & 0xfc; pos && guard++ < 48; pos = v & 0xfc) {
		uint32_t id;
		cfg_read(d, pos, 1, &id, NULL);
		if ((id & 0xff) == PCI_CAP_ID_EXP)
			exp_cap = pos;
		cfg_read(d, pos + 1, 1, &v, NULL);
	}
	for (pos = 0x100, guard = 0; pos && guard++ < 64;) {
		uint32_t h;
		if (cfg_read(d, pos, 4, &h, NULL) != 4 || h == 0 || h == 0xffffffff)
			break;
		if (PCI_EXT_CAP_ID(h) == PCI_EXT_CAP_ID_ERR) {
			aer_cap = pos;
			break;
		}
		pos = PCI_EXT_CAP_NEXT(h);
	}
	ulog("ev=caps dev=%s exp=0x%x aer=0x%x", d->name, exp_cap, aer_cap);
	if (!exp_cap || !aer_cap) {
		fprintf(stderr, "vfio-user: %s has no %s capability\n", dev_name, exp_cap ? "AER" : "PCI Express");
		exit(2);
	}
}

static int set_irq_eventfd(struct vdev *d, int index, int efd)
{
	char buf[sizeof(struct vfio_irq_set) + sizeof(int32_t)];
	struct vfio_irq_set *is = (struct vfio_irq_set *)buf;
	is->argsz = sizeof(buf);
	is->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	is->index = index;
	is->start = 0;
	is->count = 1;
	memcpy(is->data, &efd, sizeof(int32_t));
	return ioctl(device_fd, VFIO_DEVICE_SET_IRQS, is);
}

static void setup_device(struct vdev *d, int grp);

static void setup(void)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;
	int grp;

	dev_name = devs[0].name;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", dev_name);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		die("no iommu_group for the device (is the IOMMU on and the device bound to vfio-pci?)");
	link[n] = 0;
	grp = atoi(basename(link));

	container_fd = open("/dev/vfio/vfio", O_RDWR);
	if (container_fd < 0)
		die("open /dev/vfio/vfio");
	if (ioctl(container_fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		die("VFIO_GET_API_VERSION");
	if (!ioctl(container_fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU))
		die("VFIO_TYPE1_IOMMU not supported");

	snprintf(path, sizeof(path), "/dev/vfio/%d", grp);
	group_fd = open(path, O_RDWR);
	if (group_fd < 0)
		die("open the vfio group");
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	if (ioctl(group_fd, VFIO_GROUP_GET_STATUS, &gs))
		die("VFIO_GROUP_GET_STATUS");
	if (!(gs.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		errno = EBUSY;
		die("group not viable (every device of the group must be bound to vfio-pci)");
	}
	if (ioctl(group_fd, VFIO_GROUP_SET_CONTAINER, &container_fd))
		die("VFIO_GROUP_SET_CONTAINER");
	if (ioctl(container_fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU))
		die("VFIO_SET_IOMMU");
	for (int i = 0; i < ndev; i++)
		setup_device(&devs[i], grp);
}

static void setup_device(struct vdev *d, int grp)
{
	dev_name = d->name;
	d->req_fd = -1;
	d->prev_cmd = 0xdead;
	d->prev_st = 0xdeadbeef;
	device_fd = ioctl(group_fd, VFIO_GROUP_GET_DEVICE_FD, dev_name);
	if (device_fd < 0)
		die("VFIO_GROUP_GET_DEVICE_FD");

	struct vfio_device_info di = { .argsz = sizeof(di) };
	if (ioctl(device_fd, VFIO_DEVICE_GET_INFO, &di))
		die("VFIO_DEVICE_GET_INFO");
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = VFIO_PCI_CONFIG_REGION_INDEX };
	if (ioctl(device_fd, VFIO_DEVICE_GET_REGION_INFO, &ri))
		die("VFIO_DEVICE_GET_REGION_INFO(config)");
	cfg_off = ri.offset;
	ulog("ev=open dev=%s group=%d flags=0x%x regions=%u irqs=%u cfg_offset=0x%llx cfg_size=0x%llx",
	     dev_name, grp, di.flags, di.num_regions, di.num_irqs,
	     (unsigned long long)ri.offset, (unsigned long long)ri.size);

	struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = VFIO_PCI_ERR_IRQ_INDEX };
	if (ioctl(device_fd, VFIO_DEVICE_GET_IRQ_INFO, &ii))
		die("VFIO_DEVICE_GET_IRQ_INFO(err)");
	if (ii.count < 1) {
		errno = ENOTSUP;
		die("device has no error IRQ (no AER? kernel without CONFIG_PCIEAER?)");
	}
	err_fd = eventfd(0, EFD_CLOEXEC);
	if (err_fd < 0)
		die("eventfd");
	if (set_irq_eventfd(d, VFIO_PCI_ERR_IRQ_INDEX, err_fd))
		die("VFIO_DEVICE_SET_IRQS(err eventfd)");
	ulog("ev=err_eventfd dev=%s fd=%d", d->name, err_fd);
	/* the device request IRQ, as QEMU's vfio_register_req_notifier: without it a hot removal
	 * waits for the user forever ("No device request channel registered, blocked until
	 * released by user") */
	struct vfio_irq_info ri2 = { .argsz = sizeof(ri2), .index = VFIO_PCI_REQ_IRQ_INDEX };
	if (ioctl(device_fd, VFIO_DEVICE_GET_IRQ_INFO, &ri2) == 0 && ri2.count >= 1) {
		d->req_fd = eventfd(0, EFD_CLOEXEC);
		if (d->req_fd < 0)
			die("eventfd");
		if (set_irq_eventfd(d, VFIO_PCI_REQ_IRQ_INDEX, d->req_fd))
			die("VFIO_DEVICE_SET_IRQS(req eventfd)");
		ulog("ev=req_eventfd dev=%s fd=%d", d->name, d->req_fd);
	}
	find_caps(d);
}

static void arm(struct vdev *d)
{
	if (d->fd < 0)
		return;
	uint32_t before, after, cmd_before, cmd;
	cfg_read(d, exp_cap + PCI_EXP_DEVCTL, 2, &before, NULL);
	/* CERE|NFERE|FERE|URRE: without them the endpoint sends no error message
	 * and the host runs no recovery; vfio-pci leaves them 0, resets clear them. */
	int r = cfg_write(d, exp_cap + PCI_EXP_DEVCTL, 2, (before & 0xffff) | 0x000f);
	cfg_read(d, exp_cap + PCI_EXP_DEVCTL, 2, &after, NULL);
	/* SERR# Enable too: QEMU (pcie_aer_msg_alldev) drops an uncorrectable error
	 * message from a function whose COMMAND lacks it, and every reset clears
	 * COMMAND; a guest restores its config after a reset the same way. */
	cfg_read(d, PCI_COMMAND, 2, &cmd_before, NULL);
	int r2 = 0;
	if (!(cmd_before & PCI_COMMAND_SERR))
		r2 = cfg_write(d, PCI_COMMAND, 2, (cmd_before & 0xffff) | PCI_COMMAND_SERR);
	cfg_read(d, PCI_COMMAND, 2, &cmd, NULL);
	ulog("ev=armed dev=%s devctl_before=0x%04x devctl_after=0x%04x write_ret=%d command_before=0x%04x "
	     "command=0x%04x command_write_ret=%d", d->name, before & 0xffff, after & 0xffff, r, cmd_before & 0xffff,
	     cmd & 0xffff, r2);
}

static void do_reset(struct vdev *d)
{
	long t0 = now_ns();
	int r;
	if (!strcmp(reset_mode, "device")) {
		for (int attempt = 1;; attempt++) {
			t0 = now_ns();
			r = ioctl(device_fd, VFIO_DEVICE_RESET);
			int e = r ? errno : 0;
			ulog("ev=reset kind=device dev=%s attempt=%d ret=%d errno=%d dur_ns=%ld", d->name, attempt, r, e,
			     now_ns() - t0);
			/* QEMU's vfio_pci_reset gives up at once; a guest driver retrying its reset does not */
			if (!r || e != EAGAIN || reset_retry_ms < 0 || attempt >= 1000 || stop)
				break;
			usleep(reset_retry_ms * 1000);
		}
	} else if (!strcmp(reset_mode, "hot")) {
		char ib[sizeof(struct vfio_pci_hot_reset_info) + 8 * sizeof(struct vfio_pci_dependent_device)];
		struct vfio_pci_hot_reset_info *hi = (struct vfio_pci_hot_reset_info *)ib;
		memset(ib, 0, sizeof(ib));
		hi->argsz = sizeof(ib);
		r = ioctl(device_fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, hi);
		ulog("ev=hot_reset_info ret=%d errno=%d count=%u", r, r ? errno : 0, hi->count);
		char rb[sizeof(struct vfio_pci_hot_reset) + sizeof(int32_t)];
		struct vfio_pci_hot_reset *hr = (struct vfio_pci_hot_reset *)rb;
		hr->argsz = sizeof(rb);
		hr->flags = 0;
		hr->count = 1;
		memcpy(hr->group_fds, &group_fd, sizeof(int32_t));
		t0 = now_ns();
		r = ioctl(device_fd, VFIO_DEVICE_PCI_HOT_RESET, hr);
		ulog("ev=reset kind=hot dev=%s ret=%d errno=%d dur_ns=%ld", d->name, r, r ? errno : 0, now_ns() - t0);
	}
}

/* QEMU's main loop: vfio_err_notifier_handler runs here when the eventfd fires */
static void handle_error(struct vdev *d);

static void *notifier_thread(void *arg)
{
	(void)arg;
	struct pollfd p[2 * MAXDEV];
	struct vdev *who[2 * MAXDEV];
	while (!stop) {
		int np = 0;
		for (int i = 0; i < ndev; i++) {
			if (devs[i].fd < 0)
				continue;
			p[np] = (struct pollfd){ .fd = devs[i].errfd, .events = POLLIN };
			who[np++] = &devs[i];
			if (devs[i].req_fd >= 0 && !atomic_load(&devs[i].release)) {
				p[np] = (struct pollfd){ .fd = devs[i].req_fd, .events = POLLIN };
				who[np++] = &devs[i];
			}
		}
		int r = poll(p, np, 200);
		if (r <= 0)
			continue;
		for (int k = 0; k < np; k++) {
			if (!(p[k].revents & POLLIN))
				continue;
			struct vdev *d = who[k];
			if (p[k].fd == d->req_fd) {
				/* QEMU's vfio_req_notifier_handler: ask the guest to unplug; here: keep using
				 * the device for release_delay_ms, then the read loop closes it */
				uint64_t cnt;
				long t = now_ns();
				if (read(d->req_fd, &cnt, sizeof(cnt)) != sizeof(cnt))
					continue;
				d->release_at_ns = t + release_delay_ms * 1000000L;
				atomic_store(&d->release, 1);
				ulog("ev=request dev=%s count=%" PRIu64 " woke_ns=%ld release_in_ms=%ld", d->name, cnt, t,
				     release_delay_ms);
				continue;
			}
			handle_error(d);
		}
	}
	return NULL;
}

static void handle_error(struct vdev *d)
{
	{
		long t = now_ns();
		uint64_t cnt;
		uint32_t st, cmd;
		long lat;
		if (read(err_fd, &cnt, sizeof(cnt)) != sizeof(cnt))
			return;
		if (reset_first && strcmp(reset_mode, "none")) {
			ulog("ev=woke dev=%s count=%" PRIu64 " woke_ns=%ld", d->name, cnt, t);
			if (reset_delay_us)
				usleep(reset_delay_us);
			do_reset(d);
		}
		/* first thing: the evidence, before anyone clears it */
		int rr = cfg_read(d, aer_cap + PCI_ERR_UNCOR_STATUS, 4, &st, &lat);
		long t2 = now_ns();
		uint32_t cst = 0;
		cfg_read(d, aer_cap + PCI_ERR_COR_STATUS, 4, &cst, NULL);
		cfg_read(d, PCI_COMMAND, 2, &cmd, NULL);
		atomic_store(&last_notify_ns, t);
		long n = atomic_fetch_add(&notifications, 1) + 1;
		ulog("ev=notify dev=%s n=%ld count=%" PRIu64 " woke_ns=%ld uncor_status=0x%08x ret=%d lat_ns=%ld "
		     "read_done_ns=%ld cor_status=0x%08x command=0x%04x",
		     d->name, n, cnt, t, st, rr, lat, t2, cst, cmd & 0xffff);
		if (strcmp(reset_mode, "none") && !reset_first) {
			if (reset_delay_us)
				usleep(reset_delay_us);
			do_reset(d);
			cfg_read(d, PCI_COMMAND, 2, &cmd, NULL);
			ulog("ev=after_reset dev=%s command=0x%04x", d->name, cmd & 0xffff);
		}
	}
}

static void on_usr1(int s)
{
	(void)s;
	atomic_fetch_add(&arm_requests, 1);
}

static void on_usr2(int s)
{
	(void)s;
	atomic_fetch_add(&mark_requests, 1);
}

static void on_stop(int s)
{
	(void)s;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: vfio-user [--dev DDDD:BB:DD.F]... [--interval-us N] [--reset none|device|hot]\n"
		"                 [--reset-delay-us N] [--reset-first] [--reset-retry-ms N] [--release-delay-ms N]\n"
		"                 [--burst-ms N] [--held-us N] [--log FILE]\n"
		"  --dev (repeatable): functions of one IOMMU group, opened through one container and group\n"
		"  --reset-first: on notification reset at once, then read the status (default: read first)\n"
		"  --reset-retry-ms N: retry a VFIO_DEVICE_RESET refused with EAGAIN every N ms until it succeeds\n"
		"  --release-delay-ms N: after the host's device request keep reading N ms, then close (default 100)\n"
		"  SIGUSR1: set Device Control error-reporting enables; SIGUSR2: log the read rate since the last\n"
		"  mark (ev=mark); SIGINT/SIGTERM: stop with a summary.\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dev", 1, 0, 'd' }, { "interval-us", 1, 0, 'i' }, { "reset", 1, 0, 'r' },
		{ "reset-delay-us", 1, 0, 'D' }, { "burst-ms", 1, 0, 'b' }, { "held-us", 1, 0, 'H' },
		{ "log", 1, 0, 'l' }, { "reset-first", 0, 0, 'F' }, { "reset-retry-ms", 1, 0, 'R' },
		{ "release-delay-ms", 1, 0, 'Q' }, { "help", 0, 0, 'h' }, { 0 }
	};
	const char *logpath = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "d:i:r:D:b:H:l:FR:Q:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (ndev == MAXDEV)
				usage();
			devs[ndev++].name = optarg;
			break;
		case 'R': reset_retry_ms = atol(optarg); break;
		case 'Q': release_delay_ms = atol(optarg); break;
		case 'i': interval_us = atol(optarg); break;
		case 'r': reset_mode = optarg; break;
		case 'D': reset_delay_us = atol(optarg); break;
		case 'b': burst_ms = atol(optarg); break;
		case 'H': held_ns = atol(optarg) * 1000; break;
		case 'l': logpath = optarg; break;
		case 'F': reset_first = 1; break;
		default: usage();
		}
	}
	if (strcmp(reset_mode, "none") && strcmp(reset_mode, "device") && strcmp(reset_mode, "hot"))
		usage();
	if (!ndev)
		devs[ndev++].name = dev_name;
	logf = logpath ? fopen(logpath, "a") : stdout;
	if (!logf)
		die("open log");

	struct sigaction sa = { 0 };
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	setup();
	for (int i = 0; i < ndev; i++)
		arm(&devs[i]);
	pthread_t nt;
	if (pthread_create(&nt, NULL, notifier_thread, NULL))
		die("pthread_create");
	ulog("ev=ready interval_us=%ld reset=%s", interval_us, reset_mode);
	fprintf(stderr, "vfio-user: ready\n");

	/* the vCPU: a guest driver polling its devices' config space (every function in turn) */
	long t_start = now_ns(), t_sec = t_start, reads_sec = 0;
	int handled_arms = 0, handled_marks = 0;
	long mark_t = t_start, mark_reads = 0;
	while (!stop) {
		int want = atomic_load(&arm_requests);
		if (want != handled_arms) {
			handled_arms = want;
			for (int i = 0; i < ndev; i++)
				arm(&devs[i]);
		}
		int marks = atomic_load(&mark_requests);
		if (marks != handled_marks) {
			/* a phase boundary for rate measurements (e.g. the agent attached) */
			long t = now_ns();
			handled_marks = marks;
			ulog("ev=mark n=%d reads=%ld seconds=%.3f reads_per_s=%.1f", marks, n_reads - mark_reads,
			     (t - mark_t) / 1e9, (n_reads - mark_reads) * 1e9 / (t - mark_t));
			mark_t = t;
			mark_reads = n_reads;
		}
		for (int i = 0; i < ndev; i++) {
			struct vdev *d = &devs[i];
			if (d->fd < 0)
				continue;
			if (atomic_load(&d->release) && now_ns() >= d->release_at_ns) {
				/* what QEMU does once the guest let go of the device: the kernel's
				 * vfio_pci_remove waits for this close */
				int fd = d->fd;
				d->fd = -1;
				long t0 = now_ns();
				int r = close(fd);
				ulog("ev=released dev=%s ret=%d close_ns=%ld reads=%ld all_ones=%ld first_all_ones_ns=%ld "
				     "last_all_ones_ns=%ld", d->name, r, now_ns() - t0, d->n_reads, d->n_ones,
				     d->first_ones_ns, d->last_ones_ns);
				continue;
			}
			uint32_t cmd, st;
			long lat1, lat2;
			long t1 = now_ns();
			int r1 = cfg_read(d, PCI_COMMAND, 2, &cmd, &lat1);
			long t2 = now_ns();
			int r2 = cfg_read(d, aer_cap + PCI_ERR_UNCOR_STATUS, 4, &st, &lat2);
			n_reads += 2;
			d->n_reads += 2;
			reads_sec += 2;
			if (r1 < 0 || r2 < 0)
				n_errors++;
			int ones = (cmd & 0xffff) == 0xffff || st == 0xffffffff;
			if (ones) {
				n_ones++;
				d->n_ones++;
				if (!d->first_ones_ns)
					d->first_ones_ns = t1;
				d->last_ones_ns = t2;
			}
			long lat = lat1 > lat2 ? lat1 : lat2;
			if (lat > max_lat_ns)
				max_lat_ns = lat;
			int held = lat1 > held_ns || lat2 > held_ns;
			if (held)
				n_held++;
			long ln = atomic_load(&last_notify_ns);
			int in_burst = ln && t1 - ln < burst_ms * 1000000L;
			if (held || in_burst || (cmd & 0xffff) != d->prev_cmd || st != d->prev_st || r1 < 0 || r2 < 0)
				ulog("ev=read%s%s t_cmd=%ld command=0x%04x ret_cmd=%d lat_cmd_ns=%ld t_st=%ld "
				     "uncor_status=0x%08x ret_st=%d lat_st_ns=%ld%s%s", ndev > 1 ? " dev=" : "",
				     ndev > 1 ? d->name : "", t1, cmd & 0xffff, r1, lat1, t2, st, r2, lat2,
				     held ? " held=1" : "", in_burst ? " after_notify=1" : "");
			d->prev_cmd = cmd & 0xffff;
			d->prev_st = st;
		}
		long t = now_ns();
		if (t - t_sec >= 1000000000L) {
			ulog("ev=rate reads_per_s=%.0f", reads_sec * 1e9 / (t - t_sec));
			t_sec = t;
			reads_sec = 0;
		}
		if (interval_us)
			usleep(interval_us);
	}
	long dur = now_ns() - t_start;
	ulog("ev=summary reads=%ld seconds=%.3f reads_per_s=%.1f all_ones=%ld held=%ld errors=%ld max_lat_ns=%ld "
	     "notifications=%ld", n_reads, dur / 1e9, n_reads * 1e9 / dur, n_ones, n_held, n_errors, max_lat_ns,
	     atomic_load(&notifications));
	pthread_join(nt, NULL);
	return 0;
}
