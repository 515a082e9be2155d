import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ExpressAdapter } from "@bull-board/express";
import { Router, type RequestHandler } from "express";
import type { PartitionQueues } from "@settle/core";
import type { AuthFailures } from "../http/auth-failures";
import { basicAuth } from "./basic-auth";

/** Where the dashboard lives on the API. */
export const BULL_BOARD_PATH = "/admin/queues";

export interface BullBoardOptions {
  /** The partition queues and the webhook queue. */
  queues: PartitionQueues["queues"];
  admin: { user: string; password: string; readOnly: boolean };
  /** Failed logins count towards the address's limit, as failed API keys do. */
  failures: AuthFailures;
}

/**
 * Bull Board over every partition queue and the webhook queue, behind basic auth. Read-only unless asked otherwise:
 * retrying or removing a settle job by hand can reorder a partition, and PostgreSQL, not the
 * queue, is where a payment's state is changed.
 */
export function bullBoardRouter(options: BullBoardOptions): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  const readOnlyMode = options.admin.readOnly;
  createBullBoard({
    queues: options.queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode, allowRetries: !readOnlyMode })),
    serverAdapter,
    options: { uiConfig: { boardTitle: readOnlyMode ? "Settle (read-only)" : "Settle", hideDocsLink: true } },
  });
  const router = Router();
  router.use(
    options.failures.guard,
    basicAuth({
      user: options.admin.user,
      password: options.admin.password,
      realm: "Settle admin",
      onFailure: (req) => options.failures.record(req.socket.remoteAddress),
    }),
    serverAdapter.getRouter() as RequestHandler,
  );
  return router;
}
