import type { FastifyReply } from 'fastify';
import type { OperationView } from '../services/instances/operations.js';

/** Answers 202 Accepted with the operation as body and its URL in `Location`. */
export function accepted(reply: FastifyReply, op: OperationView): FastifyReply {
  return reply.code(202).header('location', `/1.0/operations/${op.id}`).send(op);
}
