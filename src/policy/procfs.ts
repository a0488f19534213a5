/**
 * What a sandbox's fresh procfs must not expose, for every backend: host-wide knobs made read-only
 * (sysctls, sysrq, interrupts, buses) and kernel internals hidden (Docker's readonlyPaths and
 * maskedPaths are the same idea).
 */
export const PROC_READ_ONLY: readonly string[] = ['/proc/sys', '/proc/sysrq-trigger', '/proc/irq', '/proc/bus', '/proc/fs'];
export const PROC_MASKED: readonly string[] = ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug', '/proc/latency_stats', '/proc/acpi', '/proc/scsi'];
