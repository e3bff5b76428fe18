/*
 * Sizes in pipeline.yaml (max_output): decimal units as disks and networks count them (kB = 1000 bytes,
 * MB = 1000 kB), binary ones when asked for by name (KiB = 1024 bytes, MiB, GiB). Units are read without
 * regard to case ("20mb" is 20 MB: nobody means megabits here).
 */
const UNITS: Record<string, number> = {
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** "20MB", "500kB", "1.5 GiB", or a bare number of bytes. Returns whole bytes, or null when not a size > 0. */
export function parseSize(input: string | number): number | null {
  if (typeof input === 'number') return Number.isSafeInteger(input) && input > 0 ? input : null;
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(input.trim());
  if (!m) return null;
  const unit = m[2] ? UNITS[m[2].toLowerCase()] : 1;
  if (unit === undefined) return null;
  const bytes = Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : null;
}

/** A size as a person reads it: "20 MB", "1 MiB", "1,234 bytes" (exact: in the unit it divides evenly). */
export function formatSize(bytes: number): string {
  for (const [unit, n] of [['GB', 1e9], ['GiB', 1024 ** 3], ['MB', 1e6], ['MiB', 1024 ** 2], ['kB', 1e3], ['KiB', 1024]] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n} ${unit}`;
  }
  return `${bytes.toLocaleString('en-US')} bytes`;
}
