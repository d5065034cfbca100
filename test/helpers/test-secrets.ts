// Credentials the tests hand to the cloud emulators. They are fake, but distinctive, so the scan of
// every test log (test/helpers/scan-test-logs.ts) can tell when one was logged.

/** moto accepts any key pair; the secret half is what must never be logged. */
export const MOTO_ACCESS_KEY_ID = "testing";
export const MOTO_SECRET_ACCESS_KEY = "moto-only-secret-key-7f3a9c";
/** The ARM emulator's service principal secret (test/azure-emulator). */
export const EMULATOR_CLIENT_SECRET = "emulator-only-client-secret";
