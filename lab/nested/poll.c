/*
 * poll: the nested guest of the lab's real-QEMU scenarios (lab/run qemu-*).
 *
 * A multiboot (v1) ELF that Debian's qemu-system-x86_64 boots with -kernel inside the lab
 * guest. It does what a guest driver does with an assigned PCIe function, and nothing else:
 * finds the first virtio function (vendor 0x1af4) on bus 0, enables its error reporting
 * (Device Control CERE|NFERE|FERE|URRE and COMMAND SERR#, as a driver's probe would; every
 * host reset clears them), then polls COMMAND through the 0xcf8/0xcfc ports and the AER
 * Uncorrectable Error Status (0x104) through ECAM, with a busy-wait between polls. Each
 * access traps to QEMU, which serves it through vfio_pci_read_config() and, for the bits it
 * does not emulate, a pread() on the vfio device: the host-side vfio.rw events of the trace.
 *
 * With "bar=N" it also reads one dword of memory BAR N in every poll (after writing 0 to it once
 * at start), as a driver reads its device's registers: QEMU serves such an access through
 * vfio_region_read()/vfio_region_write() (a pread()/pwrite() on the vfio device: the host's
 * vfio.rw on barN) only when the BAR is not mmap'd into the guest: an I/O BAR, the MSI-X
 * table's page, a quirk, or -device vfio-pci,x-no-mmap=on (lab/run qemu-bar). An mmap'd BAR is
 * read by the guest directly (under KVM and TCG alike) and neither QEMU nor vfio-pci sees it.
 * A 64-bit BAR the firmware put above 4 GiB is out of this 32-bit program's reach: it then
 * takes the first memory BAR below 4 GiB and says so.
 *
 * Progress goes to QEMU's debugcon (port 0xe9): "poll: ..." lines at start, a line whenever a
 * value changes, and a '.' every 1024 polls. Command line (multiboot): "delay=N" (pause
 * instructions between polls, default 20000), "bar=N" (BAR index 0-5, default none).
 *
 * Built by lab/run with the host's gcc -m32 -ffreestanding and ld -m elf_i386 (no libc).
 */
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

/* q35's ECAM as SeaBIOS programs PCIEXBAR (hw/pci-host/q35.h: MCH_HOST_BRIDGE_PCIEXBAR_DEFAULT) */
#define ECAM_BASE 0xb0000000u

__attribute__((section(".multiboot"), used, aligned(4)))
static const u32 multiboot_header[3] = { 0x1BADB002u, 0u, (u32)-0x1BADB002 };

u8 stack[16384] __attribute__((aligned(16)));  /* used by _start */

void cmain(u32 magic, u32 *mbi);

__asm__(".globl _start\n"
	"_start:\n"
	"  mov $stack+16384, %esp\n"
	"  push %ebx\n"
	"  push %eax\n"
	"  call cmain\n"
	"1: hlt\n"
	"  jmp 1b\n");

static inline void outl(u16 p, u32 v) { __asm__ volatile("outl %0,%1" : : "a"(v), "Nd"(p)); }
static inline u32 inl(u16 p) { u32 v; __asm__ volatile("inl %1,%0" : "=a"(v) : "Nd"(p)); return v; }
static inline void outb(u16 p, u8 v) { __asm__ volatile("outb %0,%1" : : "a"(v), "Nd"(p)); }

static void putc(char c) { outb(0xe9, (u8)c); }
static void puts(const char *s) { while (*s) putc(*s++); }
static void puthex(u32 v, int digits)
{
	for (int i = digits - 1; i >= 0; i--)
		putc("0123456789abcdef"[(v >> (i * 4)) & 0xf]);
}

static u32 cfg_addr(int dev, int off) { return 0x80000000u | (u32)dev << 11 | (u32)(off & 0xfc); }
static u32 rd32(int dev, int off) { outl(0xcf8, cfg_addr(dev, off)); return inl(0xcfc); }
static u32 rd(int dev, int off, int size)
{
	u32 v = rd32(dev, off) >> ((off & 3) * 8);
	return size == 4 ? v : v & ((1u << (size * 8)) - 1);
}
static void wr16(int dev, int off, u16 v)
{
	u32 old = rd32(dev, off), sh = (off & 2) * 8;
	outl(0xcf8, cfg_addr(dev, off));
	outl(0xcfc, (old & ~(0xffffu << sh)) | (u32)v << sh);
}
static u32 ecam_rd32(int dev, int off)
{
	return *(volatile u32 *)(ECAM_BASE + ((u32)dev << 15) + (u32)off);
}

/* the number after "key=" on the multiboot command line, or dflt */
static u32 parse_arg(u32 magic, u32 *mbi, const char *key, u32 dflt)
{
	if (magic != 0x2BADB002u || !(mbi[0] & 4))
		return dflt;
	const char *line = (const char *)mbi[4];
	for (const char *c = line; *c; c++) {
		const char *k = key, *v = c;
		while (*k && *v == *k)
			k++, v++;
		if (*k || *v != '=' || (c != line && c[-1] != ' '))
			continue;
		u32 n = 0;
		for (v++; *v >= '0' && *v <= '9'; v++)
			n = n * 10 + (u32)(*v - '0');
		return n;
	}
	return dflt;
}

/* the address of memory BAR `bar` if this 32-bit program can reach it, else 0 */
static u32 bar_addr(int dev, int bar)
{
	if (bar < 0 || bar > 5)
		return 0;
	u32 lo = rd32(dev, 0x10 + bar * 4);
	if (lo & 1)
		return 0; /* an I/O BAR */
	if ((lo & 6) == 4 && (bar == 5 || rd32(dev, 0x14 + bar * 4)))
		return 0; /* 64-bit, above 4 GiB */
	return lo & ~0xfu;
}

void cmain(u32 magic, u32 *mbi)
{
	u32 delay = parse_arg(magic, mbi, "delay", 20000);
	int bar = (int)parse_arg(magic, mbi, "bar", 99);
	int dev = -1;
	for (int d = 0; d < 32; d++)
		if ((rd32(d, 0) & 0xffff) == 0x1af4) {
			dev = d;
			break;
		}
	puts("poll: start delay=");
	puthex(delay, 8);
	if (dev < 0) {
		puts(" no virtio function on bus 0\n");
		for (;;)
			__asm__ volatile("hlt");
	}
	puts(" dev=00:");
	puthex((u32)dev, 2);
	puts(".0 id=");
	puthex(rd32(dev, 0), 8);
	int exp = 0, guard = 0;
	for (int p = rd(dev, 0x34, 1) & 0xfc; p && guard++ < 48; p = rd(dev, p + 1, 1) & 0xfc)
		if (rd(dev, p, 1) == 0x10) {
			exp = p;
			break;
		}
	puts(" exp=");
	puthex((u32)exp, 2);
	if (exp)
		wr16(dev, exp + 8, (u16)(rd(dev, exp + 8, 2) | 0x000f));
	wr16(dev, 0x04, (u16)(rd(dev, 0x04, 2) | 0x0100));
	puts(" devctl=");
	puthex(exp ? rd(dev, exp + 8, 2) : 0, 4);
	puts(" command=");
	puthex(rd(dev, 0x04, 2), 4);
	puts(" aer_hdr=");
	puthex(ecam_rd32(dev, 0x100), 8);
	volatile u32 *mmio = 0;
	if (bar != 99) {
		u32 a = bar_addr(dev, bar);
		for (int b = 0; !a && b < 6; b++)
			if ((a = bar_addr(dev, b)))
				bar = b;
		puts(" bar");
		putc((char)('0' + (bar < 10 ? bar : 0)));
		putc('=');
		puthex(a, 8);
		if (a) {
			/* memory space on (the firmware normally did it already) */
			wr16(dev, 0x04, (u16)(rd(dev, 0x04, 2) | 0x0002));
			mmio = (volatile u32 *)a;
			*mmio = 0;
			puts(" first=");
			puthex(*mmio, 8);
		}
	}
	putc('\n');

	u32 prev_cmd = 0xdead, prev_st = 0xdeadbeef, prev_bar = 0xdeadbeef, n = 0;
	for (;;) {
		u32 cmd = rd(dev, 0x04, 2);
		u32 st = ecam_rd32(dev, 0x104);
		u32 bv = mmio ? *mmio : 0;
		if (cmd != prev_cmd || st != prev_st || bv != prev_bar) {
			puts("\npoll: n=");
			puthex(n, 8);
			puts(" command=");
			puthex(cmd, 4);
			puts(" uncor_status=");
			puthex(st, 8);
			if (mmio) {
				puts(" bar=");
				puthex(bv, 8);
			}
			putc('\n');
			prev_cmd = cmd;
			prev_st = st;
			prev_bar = bv;
		}
		if ((++n & 1023) == 0)
			putc('.');
		for (u32 i = 0; i < delay; i++)
			__asm__ volatile("pause");
	}
}
