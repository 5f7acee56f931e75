/** Human-readable renderings of seconds and bytes, for logs, the CLI and alert text. */

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${bytes < 0 ? '-' : ''}${value.toFixed(digits)} ${BYTE_UNITS[unit]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  const sign = seconds < 0 ? '-' : '';
  const s = Math.abs(seconds);
  if (s < 1) return `${sign}${Math.round(s * 1000)} ms`;
  if (s < 120) return `${sign}${Math.round(s)} s`;
  if (s < 2 * 3600) return `${sign}${Math.round(s / 60)} min`;
  if (s < 2 * 86400) {
    const hours = Math.floor(s / 3600);
    const minutes = Math.round((s - hours * 3600) / 60);
    return `${sign}${hours} h${minutes ? ` ${minutes} min` : ''}`;
  }
  return `${sign}${(s / 86400).toFixed(1)} d`;
}
