// Throughput in transactions, as gomel's authors report it. gomel has no clients: its
// load generator (consensus-go e8d0088, pkg/process/tx/generate/service.go) hands the
// unit creator pieces of Txpu × txSize random bytes, txSize = 100 ("const txSize = 100";
// generateRandom makes txpu * txSize bytes), and the creator puts one piece in each unit
// it makes (pkg/process/create/service.go getData). So a unit carries Txpu transactions
// of 100 bytes, and transactions/s = ordered units/s × Txpu.
//
// A nominal figure: getData takes a piece without waiting (select … default), from a
// channel 10 deep the generator keeps full, so a unit carries none only when the generator
// fell behind the creator — which gomel's log does not say.

/** Bytes of one transaction of gomel's generator (consensus-go e8d0088 generate/service.go, txSize). */
export const TRANSACTION_BYTES = 100;

export interface Throughput {
  /** The config's transactions per unit. */
  txpu: number;
  transactionsPerSecond: number;
  /** Transactions' bytes ordered per second: transactionsPerSecond × 100. */
  payloadBytesPerSecond: number;
}

/** Transactions and payload per second of a run that ordered `unitsPerSecond` with the config's Txpu; undefined without either. */
export function throughput(unitsPerSecond: number | undefined, txpu: number | undefined): Throughput | undefined {
  if (unitsPerSecond === undefined || txpu === undefined) return undefined;
  const transactionsPerSecond = unitsPerSecond * txpu;
  return { txpu, transactionsPerSecond, payloadBytesPerSecond: transactionsPerSecond * TRANSACTION_BYTES };
}

/** A count per second in few digits: 2700, 18.5, 0.42; 18000 stays whole. */
export const perSecond = (x: number): string =>
  x >= 100 || Number.isInteger(x) ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);

/** Bytes per second in decimal units, as network rates are given: "270 KB/s", "1.8 MB/s". */
export function bytesPerSecond(bytes: number): string {
  const units = ['B/s', 'KB/s', 'MB/s', 'GB/s'];
  let k = 0;
  while (bytes >= 1000 && k < units.length - 1) {
    bytes /= 1000;
    k++;
  }
  return `${perSecond(bytes)} ${units[k]}`;
}

/** The headline's part: "2700 tx/s (270 KB/s payload)". */
export const throughputText = (t: Throughput): string =>
  `${perSecond(t.transactionsPerSecond)} tx/s (${bytesPerSecond(t.payloadBytesPerSecond)} payload)`;
