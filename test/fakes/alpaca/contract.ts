/**
 * The Trading API contract at the network boundary: every request the fake receives and every
 * response it sends is validated (openapi-backend + Ajv) against Alpaca's published OpenAPI spec,
 * vendored verbatim as ./trading-openapi.yaml (sha256 1434bbc7…e28c, a copy of
 * /work/shared/alpaca/trading-openapi.yaml). The copy is never edited; the few places where the spec
 * contradicts Alpaca's real behaviour are patched in memory, one documented erratum each
 * (SPEC_ERRATA), and the two endpoints the spec file lacks are described by a documented local
 * supplement (LOCAL_OPERATIONS), so nothing is validated against a guess without saying so.
 *
 * Rules:
 * - request: path/query parameters and the JSON body of the matched operation, the spec's global
 *   security scheme (both APCA-API-* headers present) and the required request body;
 * - 2xx response: the status must be declared for the operation, and the body must match its schema
 *   (204: no body);
 * - 4xx/5xx response: the spec describes no error bodies (and lists only a few error statuses), so any
 *   error status is accepted and its body must be Alpaca's `{ code, message }` envelope (LocalError);
 * - a request matching no operation at all is itself a violation.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type Document, OpenAPIBackend, type Operation, ValidationContext } from 'openapi-backend';
import { parse } from 'yaml';

/** The vendored spec. */
export const SPEC_PATH = fileURLToPath(new URL('./trading-openapi.yaml', import.meta.url));

export type ContractDirection = 'request' | 'response';

export interface ContractViolation {
  method: string;
  /** Path without the query string. */
  path: string;
  direction: ContractDirection;
  /** operationId matched, e.g. 'postOrder'; undefined when nothing matched. */
  operation: string | undefined;
  /** 'spec' for operations of the spec file, 'local' for the documented supplement. */
  source: 'spec' | 'local' | 'none';
  /** Response status (response violations only). */
  status?: number;
  errors: string[];
}

export interface ContractRequest {
  method: string;
  path: string;
  /** Raw query string without '?'. */
  query: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body, the raw text when it is not JSON, or undefined when there is none. */
  body: unknown;
}

export interface ContractCheck {
  operation: string | undefined;
  source: ContractViolation['source'];
  errors: string[];
}

/** A place where the spec file contradicts Alpaca, and how the validator is patched for it. */
export interface SpecErratum {
  id: string;
  where: string;
  spec: string;
  alpaca: string;
  patch: string;
}

export const SPEC_ERRATA: readonly SpecErratum[] = [
  {
    id: 'E1',
    where: 'POST /v2/orders request body',
    spec: 'reuses the response schema Order, whose `required` lists both `qty` and `notional`',
    alpaca:
      'qty and notional are mutually exclusive; the SDK (PostOrderRequest, orders.buildMarketOrder) sends exactly one',
    patch:
      'request body validated against OrderRequest = Order with required [symbol, side, type, time_in_force] and oneOf(required qty | required notional)',
  },
  {
    id: 'E2',
    where: 'Order.trail_percent, Order.trail_price, Order.hwm',
    spec: 'type string, not nullable',
    alpaca: 'null on every non-trailing order (the spec’s own x-examples show null)',
    patch: 'nullable: true',
  },
  {
    id: 'E3',
    where: 'PositionClosedReponse.status (DELETE /v2/positions, 207)',
    spec: 'type string',
    alpaca: 'an integer HTTP status (the spec’s own x-example shows 200; SDK model: number)',
    patch: 'type: integer',
  },
];

/**
 * Endpoints Alpaca serves that the Trading API spec file does not describe. They are validated
 * against these local definitions (merged into the document, marked `x-local`).
 */
export const LOCAL_OPERATIONS = {
  '/v2/orders:by_client_order_id': {
    get: {
      operationId: 'getOrderByClientOrderId',
      'x-local':
        'Trading API "Get order by client order id" (SDK OrdersApi.getOrderByClientOrderId); response = spec Order',
      parameters: [
        { in: 'query', name: 'client_order_id', required: true, schema: { type: 'string', minLength: 1 } },
        { in: 'query', name: 'nested', schema: { type: 'boolean' } },
      ],
      responses: {
        '200': {
          description: 'OK',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Order' } } },
        },
      },
    },
  },
  '/v2/stocks/{symbol}/trades/latest': {
    get: {
      operationId: 'stockLatestTradeSingle',
      'x-local': 'Market Data API latest trade, single symbol (SDK StockApi.stockLatestTradeSingle)',
      parameters: [
        { in: 'path', name: 'symbol', required: true, schema: { type: 'string', minLength: 1 } },
        {
          in: 'query',
          name: 'feed',
          schema: { type: 'string', enum: ['delayed_sip', 'iex', 'otc', 'sip', 'boats', 'overnight'] },
        },
        { in: 'query', name: 'currency', schema: { type: 'string' } },
      ],
      responses: {
        '200': {
          description: 'OK',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/LocalLatestTrade' } } },
        },
      },
    },
  },
} as const;

/** Local schemas: the market-data trade (SDK models StockLatestTradesRespSingle / StockTrade) and the error envelope. */
export const LOCAL_SCHEMAS = {
  LocalStockTrade: {
    type: 'object',
    required: ['t', 'x', 'p', 's', 'c', 'i', 'z'],
    properties: {
      t: { type: 'string', format: 'date-time' },
      x: { type: 'string', minLength: 1 },
      p: { type: 'number' },
      s: { type: 'integer' },
      c: { type: 'array', items: { type: 'string' } },
      i: { type: 'integer' },
      z: { type: 'string', enum: ['A', 'B', 'C', 'N', 'O'] },
      u: { type: 'string' },
    },
  },
  LocalLatestTrade: {
    type: 'object',
    required: ['symbol', 'trade'],
    properties: {
      symbol: { type: 'string', minLength: 1 },
      trade: { $ref: '#/components/schemas/LocalStockTrade' },
      currency: { type: 'string' },
    },
  },
  LocalError: {
    type: 'object',
    required: ['code', 'message'],
    properties: { code: { type: 'integer' }, message: { type: 'string', minLength: 1 } },
  },
} as const;

const SECURITY_HEADERS = ['apca-api-key-id', 'apca-api-secret-key'] as const;

// RFC 3339 / ISO 8601 shapes for the formats the spec uses (openapi-backend only knows the OAS numeric ones).
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME =
  /^(\d{4}-\d{2}-\d{2})[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,9})?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function isCalendarDate(value: string): boolean {
  const match = DATE.exec(value);
  if (!match) return false;
  const [year, month, day] = match.slice(1).map(Number);
  if (year === undefined || month === undefined || day === undefined) return false;
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

const FORMATS = {
  date: (value: string) => isCalendarDate(value),
  'date-time': (value: string) => {
    const match = DATE_TIME.exec(value);
    return match?.[1] !== undefined && isCalendarDate(match[1]);
  },
  uuid: (value: string) => UUID.test(value),
};

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function objectAt(root: Json, ...keys: string[]): Json {
  let node: unknown = root;
  for (const key of keys) {
    node = isObject(node) ? node[key] : undefined;
  }
  if (!isObject(node)) throw new Error(`Alpaca spec: no object at ${keys.join('.')}`);
  return node;
}

/** Applies SPEC_ERRATA and LOCAL_OPERATIONS / LOCAL_SCHEMAS to a parsed copy of the spec. */
export function patchedSpec(spec: Json): Json {
  const doc = structuredClone(spec);
  const schemas = objectAt(doc, 'components', 'schemas');
  const order = objectAt(schemas, 'Order');

  // E1: the request body of POST /v2/orders.
  const { 'x-examples': _examples, ...orderWithoutExamples } = order;
  schemas.OrderRequest = {
    ...structuredClone(orderWithoutExamples),
    title: 'OrderRequest',
    required: ['symbol', 'side', 'type', 'time_in_force'],
    oneOf: [{ required: ['qty'] }, { required: ['notional'] }],
  };
  const postSchema = objectAt(
    doc,
    'paths',
    '/v2/orders',
    'post',
    'requestBody',
    'content',
    'application/json',
  );
  postSchema.schema = { $ref: '#/components/schemas/OrderRequest' };

  // E2: trailing fields are null on ordinary orders.
  for (const name of ['trail_percent', 'trail_price', 'hwm']) {
    objectAt(order, 'properties', name).nullable = true;
    objectAt(schemas, 'OrderRequest', 'properties', name).nullable = true;
  }

  // E3: the per-position status is an integer.
  objectAt(schemas, 'PositionClosedReponse', 'properties', 'status').type = 'integer';

  Object.assign(schemas, structuredClone(LOCAL_SCHEMAS));
  Object.assign(objectAt(doc, 'paths'), structuredClone(LOCAL_OPERATIONS));
  return doc;
}

interface AjvError {
  instancePath?: string;
  message?: string;
  params?: unknown;
}

function describeErrors(errors: readonly AjvError[] | null | undefined): string[] {
  return (errors ?? []).map((error) => {
    const where = error.instancePath ? error.instancePath : '(root)';
    const params = isObject(error.params) ? error.params : {};
    const detail =
      typeof params.additionalProperty === 'string'
        ? `: '${params.additionalProperty}'`
        : Array.isArray(params.allowedValues)
          ? `: ${params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`
          : '';
    return `${where} ${error.message ?? 'is invalid'}${detail}`;
  });
}

function headerValue(headers: ContractRequest['headers'], name: string): string | undefined {
  const value = headers[name] ?? headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

export class AlpacaContract {
  private constructor(
    private readonly api: OpenAPIBackend,
    private readonly validateError: (body: unknown) => AjvError[],
  ) {}

  static async load(specPath: string = SPEC_PATH): Promise<AlpacaContract> {
    const spec: unknown = parse(await readFile(specPath, 'utf8'));
    if (!isObject(spec)) throw new Error(`${specPath} is not an OpenAPI document`);
    const api = new OpenAPIBackend({
      definition: patchedSpec(spec) as unknown as Document,
      strict: true,
      validate: true,
      customizeAjv: (ajv) => {
        for (const [name, validate] of Object.entries(FORMATS))
          ajv.addFormat(name, { type: 'string', validate });
        return ajv;
      },
    });
    await api.init();
    const errorSchema = { ...LOCAL_SCHEMAS.LocalError, $id: 'pinebridge:alpaca-error' };
    const validate = api.validator.getAjv(ValidationContext.Response).compile(errorSchema);
    return new AlpacaContract(api, (body) => (validate(body) ? [] : (validate.errors ?? [])));
  }

  private match(method: string, path: string): Operation | undefined {
    return this.api.matchOperation({ method: method.toLowerCase(), path, headers: {} });
  }

  private sourceOf(operation: Operation): 'spec' | 'local' {
    return 'x-local' in operation ? 'local' : 'spec';
  }

  checkRequest(request: ContractRequest): ContractCheck {
    const operation = this.match(request.method, request.path);
    if (!operation) {
      return {
        operation: undefined,
        source: 'none',
        errors: [
          `${request.method} ${request.path} is in neither the Trading API spec nor the local supplement`,
        ],
      };
    }
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers[name.toLowerCase()] = value;
    }
    const result = this.api.validateRequest(
      {
        method: request.method.toLowerCase(),
        path: request.path,
        query: request.query,
        headers,
        body: request.body,
      },
      operation,
    );
    const errors = describeErrors(result.errors);
    const requestBody: unknown = operation.requestBody;
    if (isObject(requestBody) && requestBody.required === true && request.body === undefined) {
      errors.push('(root) request body is required');
    }
    for (const name of SECURITY_HEADERS) {
      if (!headerValue(request.headers, name))
        errors.push(`header ${name} is required by the spec's security scheme`);
    }
    return { operation: operation.operationId, source: this.sourceOf(operation), errors };
  }

  checkResponse(request: { method: string; path: string }, status: number, body: unknown): ContractCheck {
    const operation = this.match(request.method, request.path);
    if (!operation) return { operation: undefined, source: 'none', errors: [] };
    const operationId = operation.operationId;
    const responses: Json = isObject(operation.responses) ? operation.responses : {};
    const declared = responses[String(status)];
    const hasSchema =
      isObject(declared) && isObject(declared.content) && isObject(declared.content['application/json']);
    const check = (errors: string[]): ContractCheck => ({
      operation: operationId,
      source: this.sourceOf(operation),
      errors,
    });

    if (status >= 400) {
      if (hasSchema) return check(describeErrors(this.api.validateResponse(body, operation, status).errors));
      return check(describeErrors(this.validateError(body)).map((e) => `error envelope: ${e}`));
    }
    if (!isObject(declared)) {
      return check([`status ${status} is not declared (declared: ${Object.keys(responses).join(', ')})`]);
    }
    if (!hasSchema) return check(body === undefined ? [] : [`status ${status} must not have a body`]);
    return check(describeErrors(this.api.validateResponse(body, operation, status).errors));
  }
}

const loaded = new Map<string, Promise<AlpacaContract>>();

/** The contract for a spec file, compiled once per process. */
export function loadContract(specPath: string = SPEC_PATH): Promise<AlpacaContract> {
  let contract = loaded.get(specPath);
  if (!contract) {
    contract = AlpacaContract.load(specPath);
    loaded.set(specPath, contract);
  }
  return contract;
}
