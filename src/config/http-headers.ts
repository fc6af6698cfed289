// Request headers given in the config (webhooks, the http check): a name that is not an
// RFC 9110 token, or a value with CR, LF or another control character, would split the
// request or be refused by the HTTP client at send time — so the config refuses it.
import * as z from 'zod';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

export function headerNameProblem(name: string): string {
  return TOKEN.test(name) ? '' : "expected a header name of letters, digits and !#$%&'*+-.^_`|~ (no spaces, CR or LF)";
}

export function headerValueProblem(value: string): string {
  return FIELD_VALUE.test(value) ? '' : 'expected a header value without CR, LF or other control characters';
}

/** `{ Name: value }`; `reserved` names (lower case) are set by failoverd and may not be given. */
export function httpHeaders(reserved: readonly string[] = []) {
  return z.record(z.string(), z.string()).superRefine((headers, ctx) => {
    for (const [name, value] of Object.entries(headers)) {
      const lower = name.toLowerCase();
      const nameProblem =
        headerNameProblem(name) || (reserved.includes(lower) ? `${lower} is set by failoverd and cannot be given here` : '');
      const atKey = { final: true, atKey: true };
      if (nameProblem) ctx.addIssue({ code: 'custom', path: [name], message: nameProblem, params: atKey });
      const valueProblem = headerValueProblem(value);
      if (valueProblem) ctx.addIssue({ code: 'custom', path: [name], message: valueProblem, params: { final: true } });
    }
  });
}
