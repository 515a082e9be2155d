import {
  createAccount,
  DomainError,
  findAccount,
  listAccounts,
  listEntries,
  runIdempotent,
  schemas,
  setAccountStatus,
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
  const response = await runIdempotent(deps.pool, idempotencyOf(req, "account"), (db) =>
    createAccount(db, { id: body.id ?? uuidv7(), currency: body.currency }),
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
  const [account, entries] = await Promise.all([findAccount(deps.pool, id), listEntries(deps.pool, id, query.after, query.limit)]);
  if (!account) throw new DomainError("not_found", "account not found");
  const last = entries[entries.length - 1];
  res.json({ entries, next_after: entries.length === query.limit && last ? last.seq : null });
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
