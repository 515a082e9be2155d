import { Router } from "express";
import { createAccount, DomainError, findAccount, isUuid, listEntries, schemas, uuidv7 } from "@settle/core";
import type { ApiDeps } from "../deps";
import { parseOr400 } from "../http/errors";
import { jsonBody } from "../http/json-body";

/** Path ids that are not UUIDs name nothing: 404, never a database error. */
export function uuidParam(value: unknown, what: string): string {
  if (!isUuid(value)) throw new DomainError("not_found", `${what} not found`);
  return value.toLowerCase();
}

export function accountsRouter(deps: ApiDeps): Router {
  const router = Router();

  router.post("/accounts", jsonBody, async (req, res) => {
    const body = parseOr400(schemas.CreateAccountRequest, req.body);
    const account = await createAccount(deps.pool, { id: body.id ?? uuidv7(), currency: body.currency });
    res.status(201).location(`/api/v1/accounts/${account.id}`).json(account);
  });

  router.get("/accounts/:id", async (req, res) => {
    const account = await findAccount(deps.pool, uuidParam(req.params.id, "account"));
    if (!account) throw new DomainError("not_found", "account not found");
    res.json(account);
  });

  router.get("/accounts/:id/entries", async (req, res) => {
    const id = uuidParam(req.params.id, "account");
    const query = parseOr400(schemas.EntriesQuery, req.query);
    const [account, entries] = await Promise.all([findAccount(deps.pool, id), listEntries(deps.pool, id, query.after, query.limit)]);
    if (!account) throw new DomainError("not_found", "account not found");
    const last = entries[entries.length - 1];
    res.json({ entries, next_after: entries.length === query.limit && last ? last.seq : null });
  });

  return router;
}
