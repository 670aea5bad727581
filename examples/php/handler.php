<?php
/**
 * A partner's SMS handler for smsbilling, in plain PHP (7.4 or later, no extensions beyond the core).
 *
 * It receives the platform's signed requests (docs/partner-callbacks.md), checks the signature,
 * and answers every MO with a reply the platform sends back to the subscriber:
 *
 *  - GET or POST to any path but /status: an incoming SMS (http_get or http_post_sync services);
 *    the answer body (text/plain) is the reply.
 *  - POST /status: the final status of one of your MTs; answer any 2xx.
 *
 * A request whose signature does not verify gets 401 and is not acted on. Retries can deliver the
 * same message_id twice: deduplicate on it in your database before acting.
 *
 * Try it with PHP's built-in server (put it behind your web server and HTTPS in production):
 *
 *     SMSBILLING_CALLBACK_SECRETS=whsec_... php -S 127.0.0.1:8080 handler.php
 */

declare(strict_types=1);

/** raw: the POST body, or for GET the query string as received (the bytes after '?'). */
function verify_smsbilling(string $raw, string $header, array $secrets, int $tolerance_s = 300): bool
{
    $stamps = [];
    $signatures = [];
    foreach (explode(',', $header) as $item) {
        $pair = explode('=', trim($item), 2);
        if (count($pair) !== 2) {
            continue;
        }
        if ($pair[0] === 't') {
            $stamps[] = $pair[1];
        } elseif ($pair[0] === 'v1') {
            $signatures[] = $pair[1];
        }
    }
    if (count($stamps) !== 1 || !ctype_digit($stamps[0])) {
        return false;
    }
    if (abs(time() - (int) $stamps[0]) > $tolerance_s) {
        return false;
    }
    $payload = $stamps[0] . '.' . $raw;
    $matched = false;
    foreach ($secrets as $secret) {
        $expected = hash_hmac('sha256', $payload, $secret);
        foreach ($signatures as $signature) {
            $matched = hash_equals($expected, $signature) || $matched;  // constant time, every pair
        }
    }
    return $matched;
}

/** Your business logic: the text sent back to the subscriber ('' for no reply). */
function reply_for(array $mo): string
{
    $words = preg_split('/\s+/', trim((string) ($mo['text'] ?? '')), 2);
    $rest = $words[1] ?? '';
    return 'Thank you! Your code for ' . ($rest !== '' ? $rest : 'this service') . ' is 4711.';
}

function answer(int $status, string $text): void
{
    http_response_code($status);
    header('Content-Type: text/plain; charset=utf-8');
    echo $text;
}

$secrets = array_values(array_filter(array_map('trim', explode(',', (string) getenv('SMSBILLING_CALLBACK_SECRETS')))));
$method = $_SERVER['REQUEST_METHOD'] ?? 'GET';
$raw = $method === 'GET' ? (string) ($_SERVER['QUERY_STRING'] ?? '') : (string) file_get_contents('php://input');
$header = (string) ($_SERVER['HTTP_X_SMSBILLING_SIGNATURE'] ?? '');

if ($secrets === [] || $header === '' || !verify_smsbilling($raw, $header, $secrets)) {
    answer(401, 'bad signature');
    return;
}

$path = (string) parse_url((string) ($_SERVER['REQUEST_URI'] ?? '/'), PHP_URL_PATH);
if ($method === 'POST' && substr($path, -7) === '/status') {
    $status = json_decode($raw, true);
    error_log(sprintf('MT %s: %s', $status['message_id'] ?? '?', $status['status'] ?? '?'));
    http_response_code(204);
    return;
}

$mo = $method === 'GET' ? $_GET : json_decode($raw, true);
if (!is_array($mo)) {
    answer(400, 'expected a JSON object');
    return;
}
answer(200, reply_for($mo));
