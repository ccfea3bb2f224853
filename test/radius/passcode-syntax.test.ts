import { describe, expect, it } from '@jest/globals';
import { splitPasscode } from '../../src/radius/passcode-syntax.js';

/** What users type into a NAS's one password field (docs/radius.md, "What users type"). */
describe('RADIUS password field syntax', () => {
  it.each([
    ['secret', 'secret', ''],
    ['secret,', 'secret', ''],
    ['secret,p', 'secret', ''],
    ['secret,123456', 'secret', '123456'],
    ['secret,12345678', 'secret', '12345678'],
    ['se,cret,123456', 'se,cret', '123456'],
    // What follows the last comma is neither empty, one character nor 6/8 digits: all of it is the password.
    ['pa,ss', 'pa,ss', ''],
    ['secret,1234567', 'secret,1234567', ''],
    ['secret,12345', 'secret,12345', ''],
    // A password ending like a passcode is typed with a comma after it.
    ['pa,s,', 'pa,s', ''],
    ['a,123456,', 'a,123456', ''],
    [',123456', '', '123456'],
    ['', '', ''],
    ['secret,é', 'secret', ''],
  ])('%j is password %j and passcode %j', (typed, password, passcode) => {
    expect(splitPasscode(typed)).toEqual({ password, passcode });
  });
});
