import express, { type RequestHandler } from "express";
import { DomainError } from "@settle/core";
import { assertJsonDepth } from "./json-depth";

export const BODY_LIMIT_BYTES = 16 * 1024;
const MAX_JSON_DEPTH = 8;

const parseJson = express.json({ limit: BODY_LIMIT_BYTES, strict: true, type: () => true });

function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  return headers["transfer-encoding"] !== undefined || (headers["content-length"] !== undefined && headers["content-length"] !== "0");
}

/**
 * JSON bodies only: a body of another media type is a 415; an empty body reads as `{}` so a POST
 * whose fields are all optional needs none.
 */
export const jsonBody: RequestHandler = (req, res, next) => {
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
