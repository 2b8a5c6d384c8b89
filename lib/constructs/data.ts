import { RemovalPolicy } from 'aws-cdk-lib';
import {
  type Attribute,
  AttributeType,
  Billing,
  type GlobalSecondaryIndexPropsV2,
  type ITableV2,
  ProjectionType,
  StreamViewType,
  TableEncryptionV2,
  TableV2,
} from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import {
  EXECUTION_CELL_INDEXES,
  type IndexDefinition,
  type KeyAttribute,
  TABLES,
  type TableDefinition,
  type TableKey,
} from '../../core/adapters/dynamodb/tables.js';

export interface DataTablesProps {
  /**
   * What happens to each table when it leaves the stack (deleted stack, renamed construct).
   *
   * @default RemovalPolicy.RETAIN — the tables are the service's only state; losing them to a
   * stack deletion is never what anyone meant.
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * How many of EXECUTION_CELL_INDEXES the Executions table has, first ones first: fewer than all
   * is a stage of the upgrade of a table deployed before them, one index per deploy.
   *
   * @default all of them
   */
  readonly executionCellIndexes?: number;
}

const ATTRIBUTE_TYPE = { S: AttributeType.STRING, N: AttributeType.NUMBER } as const;
const PROJECTION = { ALL: ProjectionType.ALL, KEYS_ONLY: ProjectionType.KEYS_ONLY } as const;

const attribute = (key: KeyAttribute): Attribute => ({ name: key.name, type: ATTRIBUTE_TYPE[key.type] });

const index = (definition: IndexDefinition): GlobalSecondaryIndexPropsV2 => ({
  indexName: definition.indexName,
  partitionKey: attribute(definition.partitionKey),
  sortKey: definition.sortKey && attribute(definition.sortKey),
  projectionType: PROJECTION[definition.projection],
});

/**
 * The DynamoDB tables, one per entry of {@link TABLES}: the same definitions the local runtime
 * creates its tables from, so keys and indexes cannot drift between the cloud and a laptop.
 */
export class DataTables extends Construct {
  /** Every table, by its key in {@link TABLES}. */
  public readonly tables: Record<TableKey, ITableV2>;

  constructor(scope: Construct, id: string, props: DataTablesProps = {}) {
    super(scope, id);
    const definitions = Object.entries(TABLES) as [TableKey, TableDefinition][];
    const skipped = new Set(
      EXECUTION_CELL_INDEXES.slice(props.executionCellIndexes ?? EXECUTION_CELL_INDEXES.length),
    );
    const indexesOf = (key: TableKey, definition: TableDefinition) =>
      key === 'executions' ? definition.indexes.filter((i) => !skipped.has(i.indexName)) : definition.indexes;
    const tables = definitions.map(([key, definition]): [TableKey, ITableV2] => [
      key,
      // The construct id is the definition's id and never changes: a new logical id would make
      // CloudFormation create an empty table beside the retained one.
      new TableV2(this, definition.id, {
        partitionKey: attribute(definition.partitionKey),
        sortKey: definition.sortKey && attribute(definition.sortKey),
        globalSecondaryIndexes: indexesOf(key, definition).map(index),
        // Traffic is spiky (minute ticks, a UI now and then): on-demand costs nothing when idle.
        billing: Billing.onDemand(),
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        // The aws/dynamodb key: encrypted at rest, auditable in CloudTrail, no key policy to run.
        encryption: TableEncryptionV2.awsManagedKey(),
        timeToLiveAttribute: definition.timeToLiveAttribute,
        // Read by the change feed; new and old images, so it sees what each change changed.
        dynamoStream: definition.stream ? StreamViewType.NEW_AND_OLD_IMAGES : undefined,
        removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      }),
    ]);
    this.tables = Object.fromEntries(tables) as Record<TableKey, ITableV2>;
  }
}
