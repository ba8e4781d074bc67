<?php

declare(strict_types=1);

namespace StackGuard\Controller;

use StackGuard\App;
use StackGuard\Domain\DuplicateUsernameException;
use StackGuard\Domain\MessageRepository;
use StackGuard\Domain\UserRepository;
use StackGuard\Domain\Validator;
use StackGuard\Http\Request;
use StackGuard\Http\Response;

/**
 * JSON API for load generators and tests. No session, no CSRF: every call
 * carries its credentials. Errors are {"error": "..."}.
 */
final class ApiController
{
    private App $app;

    public function __construct(App $app)
    {
        $this->app = $app;
    }

    /**
     * POST /api/accounts {"username", "password"} -> 201 {"id", "username"}
     */
    public function createAccount(Request $request): Response
    {
        $input = $this->jsonObject($request);
        if ($input instanceof Response) {
            return $input;
        }
        $username = $input['username'] ?? null;
        $password = $input['password'] ?? null;
        $error = Validator::usernameError($username) ?? Validator::passwordError($password);
        if ($error !== null || !is_string($username) || !is_string($password)) {
            return Response::jsonError($error ?? 'invalid input', 422);
        }

        try {
            $id = $this->users()->create($username, $password);
        } catch (DuplicateUsernameException $e) {
            return Response::jsonError('username already taken', 409);
        }
        return Response::json(['id' => $id, 'username' => $username], 201);
    }

    /**
     * POST /api/messages {"from", "password", "to", "body"} -> 201 {"id"}
     */
    public function sendMessage(Request $request): Response
    {
        $input = $this->jsonObject($request);
        if ($input instanceof Response) {
            return $input;
        }
        $from = $input['from'] ?? null;
        $password = $input['password'] ?? null;
        $to = $input['to'] ?? null;
        if (!is_string($from) || !is_string($password) || !is_string($to) || !array_key_exists('body', $input)) {
            return Response::jsonError('"from", "password", "to" and "body" are required strings', 422);
        }
        if (Validator::usernameError($to) !== null) {
            return Response::jsonError('"to" is not a valid username', 422);
        }
        list($body, $bodyError) = Validator::normalizeBody($input['body']);
        if ($bodyError !== null || $body === null) {
            return Response::jsonError($bodyError ?? 'invalid body', 422);
        }

        $users = $this->users();
        $sender = $users->authenticate($from, $password);
        if ($sender === null) {
            return Response::jsonError('invalid credentials', 401);
        }
        $recipient = $users->findByUsername($to);
        if ($recipient === null) {
            return Response::jsonError('unknown recipient', 404);
        }
        $id = $this->messages()->send($sender['id'], $recipient['id'], $body);
        return Response::json(['id' => $id], 201);
    }

    /**
     * GET /api/messages?user=U&password=P[&limit=N] -> 200 [messages received, newest first]
     */
    public function listMessages(Request $request): Response
    {
        $user = $request->queryString('user');
        $password = $request->queryString('password');
        if ($user === null || $password === null) {
            return Response::jsonError('"user" and "password" query parameters are required', 422);
        }
        $limit = MessageRepository::DEFAULT_LIMIT;
        $limitParam = $request->queryString('limit');
        if ($limitParam !== null) {
            if (preg_match('/\A[0-9]{1,9}\z/', $limitParam) !== 1 || (int) $limitParam < 1 || (int) $limitParam > 1000) {
                return Response::jsonError('"limit" must be an integer from 1 to 1000', 422);
            }
            $limit = (int) $limitParam;
        }

        $account = $this->users()->authenticate($user, $password);
        if ($account === null) {
            return Response::jsonError('invalid credentials', 401);
        }
        return Response::json($this->messages()->inbox($account['id'], $limit), 200);
    }

    /**
     * The request body decoded as a JSON object, or an error response.
     *
     * @return array<string, mixed>|Response
     */
    private function jsonObject(Request $request)
    {
        $raw = $request->body();
        if ($raw === null) {
            return Response::jsonError('request body too large', 413);
        }
        try {
            $data = json_decode($raw, true, 8, JSON_THROW_ON_ERROR);
        } catch (\JsonException $e) {
            return Response::jsonError('request body must be a JSON object', 422);
        }
        if (!is_array($data)) {
            return Response::jsonError('request body must be a JSON object', 422);
        }
        return $data;
    }

    private function users(): UserRepository
    {
        return new UserRepository($this->app->database()->pdo());
    }

    private function messages(): MessageRepository
    {
        return new MessageRepository($this->app->database()->pdo());
    }
}
