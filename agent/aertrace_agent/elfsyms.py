"""Defined function symbols of an ELF binary's dynamic symbol table (what `nm -D --defined-only` lists
as T), for resolving user-space probes (uprobes on QEMU) the way kallsyms resolves kernel ones.

Only .dynsym is read: distributions strip .symtab, and uprobes on a stripped binary can only name
exported functions. Plain Python (struct), no binutils needed on the host."""
import struct

SHT_DYNSYM = 11
STT_FUNC = 2
STT_GNU_IFUNC = 10


class ElfError(ValueError):
    pass


def dynamic_functions(path, limit=64 * 1024 * 1024):
    """Names of the functions .dynsym defines (st_shndx != UNDEF). Raises ElfError / OSError."""
    with open(path, "rb") as f:
        ident = f.read(16)
        if len(ident) < 16 or ident[:4] != b"\x7fELF":
            raise ElfError("%s is not an ELF file" % path)
        if ident[4] != 2 or ident[5] != 1:
            raise ElfError("%s: only 64-bit little-endian ELF is supported" % path)
        hdr = f.read(48)
        if len(hdr) < 48:
            raise ElfError("%s: truncated ELF header" % path)
        (e_type, e_machine, e_version, e_entry, e_phoff, e_shoff, e_flags, e_ehsize, e_phentsize, e_phnum,
         e_shentsize, e_shnum, e_shstrndx) = struct.unpack("<HHIQQQIHHHHHH", hdr)
        if not e_shoff or e_shentsize < 64 or e_shnum > 65535:
            raise ElfError("%s: no section headers" % path)
        f.seek(e_shoff)
        raw = f.read(e_shentsize * e_shnum)
        sections = []
        for i in range(e_shnum):
            (name, typ, flags, addr, off, size, link, info, align, entsize) = struct.unpack_from(
                "<IIQQQQIIQQ", raw, i * e_shentsize)
            sections.append((typ, off, size, link, entsize))
        out = set()
        for typ, off, size, link, entsize in sections:
            if typ != SHT_DYNSYM:
                continue
            if link >= len(sections) or entsize < 24 or size > limit:
                raise ElfError("%s: malformed .dynsym" % path)
            _, str_off, str_size, _, _ = sections[link]
            if str_size > limit:
                raise ElfError("%s: malformed .dynstr" % path)
            f.seek(str_off)
            strtab = f.read(str_size)
            f.seek(off)
            syms = f.read(size)
            for i in range(size // entsize):
                st_name, st_info, st_other, st_shndx, st_value, st_size = struct.unpack_from(
                    "<IBBHQQ", syms, i * entsize)
                if st_shndx == 0 or (st_info & 0xf) not in (STT_FUNC, STT_GNU_IFUNC):
                    continue
                end = strtab.find(b"\0", st_name)
                if end < 0:
                    continue
                out.add(strtab[st_name:end].decode("ascii", "replace"))
        return out
