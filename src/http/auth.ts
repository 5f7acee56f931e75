/**
 * The bearer token. It is checked by an onRequest hook that the API scope registers for itself,
 * so it guards routes, not URL text: however a path is spelt (%-escapes, case), a request that
 * the router sends to an API route passes through the hook first. Compared in constant time.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

export function bearerTokenHook(token: string) {
  const expected = Buffer.from(token);
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    // The scheme is case-insensitive (RFC 9110 §11.1); the token is compared byte for byte.
    const match = /^bearer (.+)$/i.exec(req.headers.authorization ?? '');
    const given = Buffer.from(match?.[1] ?? '');
    if (match && given.length === expected.length && timingSafeEqual(given, expected)) return;
    await reply.status(401).header('www-authenticate', 'Bearer').send({ error: 'Unauthorized', message: 'a valid bearer token is required' });
  };
}
