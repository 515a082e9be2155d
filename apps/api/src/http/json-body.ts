import express, { type RequestHandler } from "express";
import { DomainError } from "@settle/core";
import { assertJsonDepth } from "./json-depth";

export const BODY_LIMIT_BYTES = 16 * 1024;
/** The batch intake's limit: 1,000 payments of about 300 bytes each, with room to spare. */
export const BATCH_BODY_LIMIT_BYTES = 1024 * 1024;
const MAX_JSON_DEPTH = 8;

function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  return headers["transfer-encoding"] !== undefined || (headers["content-length"] !== undefined && headers["content-length"] !== "0");
}

/**
 * JSON bodies only, of at most `limitBytes`: a body of another media type is a 415; an empty body
 * reads as `{}` so a POST whose fields are all optional needs none.
 */
export function jsonBodyOf(limitBytes: number): RequestHandler {
  const parseJson = express.json({ limit: limitBytes, strict: true, type: () => true });
  return (req, res, next) => {
    if (!hasBody(req.headers)) {
      req.body = {};
      return next();
    }
    if (!req.is(["application/json", "application/*+json"])) {
      throw new DomainError("unsupported_media_type", "send the body as Content-Type: application/json");
    }
    return parseJson(req, res, (err?: unknown) => {
      if (err) return next(err);
      // A throw inside this callback would escape Express: hand the error over instead.
      try {
        assertJsonDepth(req.body, MAX_JSON_DEPTH);
      } catch (depthError) {
        return next(depthError);
      }
      next();
    });
  };
}

export const jsonBody = jsonBodyOf(BODY_LIMIT_BYTES);
