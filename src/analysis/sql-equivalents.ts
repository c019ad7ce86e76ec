/**
 * SQL steps that do what one of odibi's built-in transformers does (odibi 3.x's `sql_core` and `relational`
 * transformers generate the same SQL): a user who writes them by hand could use the transformer instead. Each rule
 * names the transformer and matches the whole statement over `df`, so a SQL step that does more is left alone.
 */
interface SqlRule {
  transformer: string;
  pattern: RegExp;
}

const COLS = String.raw`[\w"]+(?:\s*,\s*[\w"]+)*`;
const FROM_DF = String.raw`FROM\s+df`;

const RULES: SqlRule[] = [
  {
    transformer: "filter_rows",
    pattern: new RegExp(String.raw`^SELECT\s+\*\s+${FROM_DF}\s+WHERE\s+.+$`, "is"),
  },
  {
    transformer: "distinct",
    pattern: new RegExp(String.raw`^SELECT\s+DISTINCT\s+(?:\*|${COLS})\s+${FROM_DF}$`, "is"),
  },
  {
    transformer: "deduplicate",
    pattern: /ROW_NUMBER\(\)\s+OVER\s*\(\s*PARTITION\s+BY\s+.+\)\s+(?:AS\s+)?(\w+).*WHERE\s+\1\s*=\s*1\s*$/is,
  },
  {
    transformer: "aggregate",
    pattern: new RegExp(
      String.raw`^SELECT\s+.+\b(?:SUM|COUNT|AVG|MIN|MAX)\s*\(.+${FROM_DF}\s+GROUP\s+BY\s+${COLS}$`,
      "is",
    ),
  },
  {
    transformer: "sort",
    pattern: new RegExp(String.raw`^SELECT\s+\*\s+${FROM_DF}\s+ORDER\s+BY\s+[^;]+$`, "is"),
  },
  {
    transformer: "limit",
    pattern: new RegExp(String.raw`^SELECT\s+\*\s+${FROM_DF}\s+LIMIT\s+\d+(?:\s+OFFSET\s+\d+)?$`, "is"),
  },
  {
    transformer: "drop_columns",
    pattern: new RegExp(String.raw`^SELECT\s+\*\s+EXCLUDE\s*\(\s*${COLS}\s*\)\s+${FROM_DF}$`, "is"),
  },
  { transformer: "select_columns", pattern: new RegExp(String.raw`^SELECT\s+${COLS}\s+${FROM_DF}$`, "is") },
  {
    transformer: "case_when",
    pattern: new RegExp(
      String.raw`^SELECT\s+\*\s*,\s*CASE\s+WHEN\s+.+\s+END\s+AS\s+[\w"]+\s+${FROM_DF}$`,
      "is",
    ),
  },
  {
    transformer: "coalesce_columns",
    pattern: new RegExp(
      String.raw`^SELECT\s+\*\s*,\s*COALESCE\s*\([^)]*\)\s+AS\s+[\w"]+\s+${FROM_DF}$`,
      "is",
    ),
  },
];

/** The built-in transformer a SQL step re-implements, or undefined. */
export function transformerForSql(sql: string): string | undefined {
  const s = sql.trim().replace(/;\s*$/, "");
  return RULES.find((r) => r.pattern.test(s))?.transformer;
}

/** The SQL with its literals masked (`'x'` → `?`, numbers → `N`) and blanks collapsed: one shape for its evidence. */
export function sqlShape(sql: string): string {
  return sql
    .trim()
    .replace(/'[^']*'/g, "?")
    .replace(/\b\d+(?:\.\d+)?\b/g, "N")
    .replace(/\s+/g, " ")
    .slice(0, 200);
}
