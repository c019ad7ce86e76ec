/**
 * Synthetic input data for the harnesses: small tables whose columns have the shapes odibi's parameters ask for
 * (keys, categories, text, numerics, dates, timestamps), written as CSV. Deterministic: the same rows every time, so
 * a harness can state its expected output.
 */

export type Cell = string | number | boolean | null;
export type Row = Record<string, Cell>;

export interface Table {
  columns: string[];
  rows: Row[];
}

/** The base table every transformer harness reads (12 rows, one per customer; `payload` is JSON text). */
export function baseTable(): Table {
  const categories = ["A", "B", "C"];
  const rows: Row[] = [];
  for (let i = 1; i <= 12; i++) {
    const day = String(i).padStart(2, "0");
    rows.push({
      id: i,
      customer_id: `C${String(i).padStart(3, "0")}`,
      name: `Customer ${i}`,
      email: `user${i}@example.com`,
      category: categories[i % 3]!,
      amount: Math.round(i * 10.5 * 100) / 100,
      qty: i % 5,
      event_date: `2024-02-${day}`,
      updated_at: `2024-02-${day} 10:00:00`,
      start_ts: `2024-02-${day} 08:00:00`,
      end_ts: `2024-02-${day} 17:30:00`,
      payload: JSON.stringify({ a: i, b: `x${i}` }),
    });
  }
  return { columns: Object.keys(rows[0]!), rows };
}

/** The column a parameter's role asks for, in the base table. */
export const ROLE_COLUMNS = {
  key: "customer_id",
  group: "category",
  text: "name",
  text2: "email",
  numeric: "amount",
  numeric2: "qty",
  date: "event_date",
  timestamp: "updated_at",
  start: "start_ts",
  end: "end_ts",
  json: "payload",
} as const;

/** The base table's date and timestamp columns. */
export const DATE_COLUMNS = [ROLE_COLUMNS.date, ROLE_COLUMNS.timestamp, ROLE_COLUMNS.start, ROLE_COLUMNS.end];

function csvCell(v: Cell): string {
  if (v === null) return "";
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A table as CSV (header, then one line per row; null is an empty field). */
export function toCsv(t: Table): string {
  const lines = [t.columns.map(csvCell).join(",")];
  for (const r of t.rows) lines.push(t.columns.map((c) => csvCell(r[c] ?? null)).join(","));
  return `${lines.join("\n")}\n`;
}
