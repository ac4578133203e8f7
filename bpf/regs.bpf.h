/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Architecture-specific register reads, kept in one place so another
 * architecture (arm64) only has to fill in this file.
 */
#ifndef CTRACE_REGS_BPF_H
#define CTRACE_REGS_BPF_H

#if defined(__TARGET_ARCH_x86)

/*
 * Syscall arguments as the x86_64 syscall ABI passes them. regs is a
 * tp_btf (BTF) pointer: plain loads, no helper calls.
 */
static __always_inline void syscall_args(struct pt_regs *regs, __u64 *args)
{
	args[0] = regs->di;
	args[1] = regs->si;
	args[2] = regs->dx;
	args[3] = regs->r10;
	args[4] = regs->r8;
	args[5] = regs->r9;
}

static __always_inline long syscall_nr(struct pt_regs *regs)
{
	return regs->orig_ax;
}

/* Go's register ABI (ABIInternal): R14 holds the current g. */
static __always_inline __u64 go_g_register(struct pt_regs *ctx)
{
	return ctx->r14;
}

static __always_inline __u64 go_r12(struct pt_regs *ctx)
{
	return ctx->r12;
}

/* Integer arguments: AX, BX, CX, DI, SI, R8, ... */
static __always_inline __u64 go_arg0(struct pt_regs *ctx)
{
	return ctx->ax;
}

static __always_inline __u64 go_arg1(struct pt_regs *ctx)
{
	return ctx->bx;
}

#else
#error "ctrace-bpf: unsupported architecture (add its register reads to bpf/regs.bpf.h)"
#endif

#endif /* CTRACE_REGS_BPF_H */
