import {
  balanceAt,
  createAccount,
  DomainError,
  findAccount,
  listAccounts,
  listEntries,
  runIdempotent,
  schemas,
  setAccountStatus,
  setOverdraftLimit,
  uuidv7,
  type AccountStatus,
} from "@settle/core";
import { parseOr400 } from "../http/errors";
import { idempotencyOf, uuidParam } from "../http/request";
import type { RouteHandler } from "./router";

// The handlers of /api/v1/accounts; their routes (path, role, body limit) are in the route table
// (ops/openapi-routes.ts), which builds the router.

export const create: RouteHandler = async (req, res, { deps }) => {
  const body = parseOr400(schemas.CreateAccountRequest, req.body);
  // Credit is an operator's decision (docs/API.md "Overdraft limits"); an open API has no roles.
  if (body.overdraft_limit !== undefined && !/^0+(\.0+)?$/.test(body.overdraft_limit) && res.locals.role === "client") {
    throw new DomainError("forbidden", "overdraft_limit: only an admin key may give an account an overdraft limit", [
      { path: "overdraft_limit", message: "needs an admin key (ADMIN_API_KEYS)" },
    ]);
  }
  const response = await runIdempotent(deps.pool, idempotencyOf(req, "account"), (db) =>
    createAccount(db, { id: body.id ?? uuidv7(), currency: body.currency, overdraftLimit: body.overdraft_limit }),
  );
  if (response.replayed) res.setHeader("Idempotent-Replayed", "true");
  res.status(201).location(`/api/v1/accounts/${response.body.id}`).json(response.body);
};

export const list: RouteHandler = async (req, res, { deps }) => {
  const q = parseOr400(schemas.AccountsListQuery, req.query, "(query)");
  const accounts = await listAccounts(deps.pool, q.after, q.limit);
  res.json({ accounts, next_after: accounts.length === q.limit ? accounts[accounts.length - 1]!.id : null });
};

export const get: RouteHandler = async (req, res, { deps }) => {
  const account = await findAccount(deps.pool, uuidParam(req.params.id, "account"));
  if (!account) throw new DomainError("not_found", "account not found");
  res.json(account);
};

export const entries: RouteHandler = async (req, res, { deps }) => {
  const id = uuidParam(req.params.id, "account");
  const query = parseOr400(schemas.EntriesQuery, req.query, "(query)");
  const filter = { from: query.from, to: query.to };
  const [account, entries] = await Promise.all([findAccount(deps.pool, id), listEntries(deps.pool, id, query.after, query.limit, filter)]);
  if (!account) throw new DomainError("not_found", "account not found");
  const last = entries[entries.length - 1];
  res.json({ entries, next_after: entries.length === query.limit && last ? last.seq : null });
};

/** The balances as of an instant: those after the account's last entry at or before `at` (docs/API.md "Balances at a moment"). */
export const balance: RouteHandler = async (req, res, { deps }) => {
  const id = uuidParam(req.params.id, "account");
  const query = parseOr400(schemas.BalanceAtQuery, req.query, "(query)");
  const [account, balances] = await Promise.all([findAccount(deps.pool, id), balanceAt(deps.pool, id, query.at)]);
  if (!account) throw new DomainError("not_found", "account not found");
  res.json(balances);
};

/** Freeze or unfreeze (admin only): a freeze stops an account sending at once (docs/API.md "Freezing an account"). */
export const setStatus =
  (status: AccountStatus): RouteHandler =>
  async (req, res, { deps }) => {
    const id = uuidParam(req.params.id, "account");
    parseOr400(schemas.EmptyRequest, req.body);
    const account = await setAccountStatus(deps.pool, id, status);
    if (!account) throw new DomainError("not_found", "account not found");
    req.log?.info({ account: id, status }, `account ${status === "frozen" ? "frozen" : "unfrozen"}`);
    res.json(account);
  };

/** PATCH /accounts/:id (admin only): the overdraft limit, at once (docs/API.md "Overdraft limits"). */
export const update: RouteHandler = async (req, res, { deps }) => {
  const id = uuidParam(req.params.id, "account");
  const body = parseOr400(schemas.UpdateAccountRequest, req.body);
  const account = await setOverdraftLimit(deps.pool, id, body.overdraft_limit!);
  if (!account) throw new DomainError("not_found", "account not found");
  req.log?.info({ account: id, overdraftLimit: account.overdraft_limit }, "account overdraft limit set");
  res.json(account);
};
