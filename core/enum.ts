/**
 * A constant table whose keys are its values, declared from the values alone so that each status or
 * type is spelled once: `enumOf('Cron', 'Manual')` is `{ Cron: 'Cron', Manual: 'Manual' }`, in that
 * order (as `Object.values` lists them).
 */
export function enumOf<const Names extends readonly string[]>(
  ...names: Names
): { readonly [N in Names[number]]: N } {
  return Object.fromEntries(names.map((name) => [name, name])) as { readonly [N in Names[number]]: N };
}

/** The union of a constant table's values: `type X = ValueOf<typeof X>`. */
export type ValueOf<Table> = Table[keyof Table];
