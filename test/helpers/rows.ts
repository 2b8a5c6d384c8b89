/**
 * `it.each` rows from values grouped by what they share, each group named once: `rowsOf('field',
 * 'value', { page: ['0', '-1'] })` is `[{ field: 'page', value: '0' }, { field: 'page', value: '-1' }]`.
 */
export function rowsOf<const Group extends string, const Item extends string>(
  group: Group,
  item: Item,
  table: Readonly<Record<string, readonly string[]>>,
): Record<Group | Item, string>[] {
  return Object.entries(table).flatMap(([key, values]) =>
    values.map((value) => ({ [group]: key, [item]: value }) as Record<Group | Item, string>),
  );
}
