/** A duration given in hours, as people read it: "42 s", "17 min", "3.25 h". */
export function describeHours(hours: number): string {
  const seconds = Math.max(0, hours * 3600);
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  return `${hours.toFixed(2)} h`;
}
