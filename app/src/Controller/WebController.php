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
use StackGuard\Security\Session;

/**
 * Server-rendered HTML pages. Every POST form carries the session's CSRF
 * token; successful POSTs redirect (303) so that reloading does not resubmit.
 */
final class WebController
{
    private App $app;

    private Session $session;

    public function __construct(App $app, Session $session)
    {
        $this->app = $app;
        $this->session = $session;
    }

    /**
     * GET /: sign-up and log-in forms, or the user's messages when logged in.
     */
    public function home(Request $request): Response
    {
        $user = $this->currentUser();
        if ($user === null) {
            return $this->homePage([], '', '', 200);
        }
        return $this->messagesPage($user, null, '', '', 200);
    }

    /**
     * GET /messages
     */
    public function messages(Request $request): Response
    {
        $user = $this->currentUser();
        if ($user === null) {
            $this->session->flash('Please log in to see your messages.');
            return Response::redirect('/');
        }
        return $this->messagesPage($user, null, '', '', 200);
    }

    /**
     * POST /signup
     */
    public function signup(Request $request): Response
    {
        $denied = $this->checkCsrf($request);
        if ($denied !== null) {
            return $denied;
        }
        $username = trim($request->formString('username'));
        $password = $request->formString('password');
        $error = Validator::usernameError($username) ?? Validator::passwordError($password);
        if ($error !== null) {
            return $this->homePage(['signup' => ucfirst($error) . '.'], $username, '', 422);
        }
        try {
            $id = $this->users()->create($username, $password);
        } catch (DuplicateUsernameException $e) {
            return $this->homePage(['signup' => 'That username is already taken.'], $username, '', 409);
        }
        $this->session->logIn($id, $username);
        $this->session->flash(sprintf('Welcome, %s! Your account has been created.', $username));
        return Response::redirect('/');
    }

    /**
     * POST /login
     */
    public function login(Request $request): Response
    {
        $denied = $this->checkCsrf($request);
        if ($denied !== null) {
            return $denied;
        }
        $username = trim($request->formString('username'));
        $password = $request->formString('password');
        $user = $this->users()->authenticate($username, $password);
        if ($user === null) {
            return $this->homePage(['login' => 'Wrong username or password.'], '', $username, 422);
        }
        $this->session->logIn($user['id'], $user['username']);
        return Response::redirect('/');
    }

    /**
     * POST /logout
     */
    public function logout(Request $request): Response
    {
        $denied = $this->checkCsrf($request);
        if ($denied !== null) {
            return $denied;
        }
        $this->session->logOut();
        return Response::redirect('/');
    }

    /**
     * POST /messages
     */
    public function send(Request $request): Response
    {
        $denied = $this->checkCsrf($request);
        if ($denied !== null) {
            return $denied;
        }
        $user = $this->currentUser();
        if ($user === null) {
            $this->session->flash('Please log in to send messages.');
            return Response::redirect('/');
        }
        $to = trim($request->formString('to'));
        $rawBody = $request->formString('body');
        if (Validator::usernameError($to) !== null) {
            return $this->messagesPage($user, 'Enter the username of the recipient.', $to, $rawBody, 422);
        }
        list($body, $bodyError) = Validator::normalizeBody($rawBody);
        if ($bodyError !== null || $body === null) {
            return $this->messagesPage($user, ucfirst((string) $bodyError) . '.', $to, $rawBody, 422);
        }
        $recipient = $this->users()->findByUsername($to);
        if ($recipient === null) {
            return $this->messagesPage($user, sprintf('There is no user named "%s".', $to), $to, $rawBody, 404);
        }
        $this->messageRepository()->send($user['id'], $recipient['id'], $body);
        $this->session->flash(sprintf('Message sent to %s.', $recipient['username']));
        return Response::redirect('/messages');
    }

    /**
     * The logged-in user, checked against the database (an account that no
     * longer exists ends the session).
     *
     * @return array{id: int, username: string}|null
     */
    private function currentUser(): ?array
    {
        $sessionUser = $this->session->user();
        if ($sessionUser === null) {
            return null;
        }
        $user = $this->users()->findById($sessionUser['id']);
        if ($user === null) {
            $this->session->logOut();
            $this->session->start();
            return null;
        }
        return $user;
    }

    private function checkCsrf(Request $request): ?Response
    {
        if ($this->session->isValidCsrfToken($request->formString('_csrf'))) {
            return null;
        }
        return $this->app->errorPage(
            403,
            'Your session has expired or the form is invalid. Go back, reload the page and try again.'
        );
    }

    /**
     * @param array<string, string> $errors
     */
    private function homePage(array $errors, string $signupUsername, string $loginUsername, int $status): Response
    {
        return Response::html($this->app->view()->page('home', 'Welcome', $this->pageVars(null) + [
            'errors' => $errors,
            'signupUsername' => $signupUsername,
            'loginUsername' => $loginUsername,
        ]), $status);
    }

    /**
     * @param array{id: int, username: string} $user
     */
    private function messagesPage(array $user, ?string $error, string $to, string $body, int $status): Response
    {
        $repository = $this->messageRepository();
        return Response::html($this->app->view()->page('messages', 'Messages', $this->pageVars($user) + [
            'error' => $error,
            'to' => $to,
            'body' => $body,
            'inbox' => $repository->inbox($user['id']),
            'sent' => $repository->sent($user['id']),
        ]), $status);
    }

    /**
     * @param array{id: int, username: string}|null $user
     * @return array<string, mixed>
     */
    private function pageVars(?array $user): array
    {
        return [
            'user' => $user,
            'csrf' => $this->session->csrfToken(),
            'flash' => $this->session->takeFlash(),
        ];
    }

    private function users(): UserRepository
    {
        return new UserRepository($this->app->database()->pdo());
    }

    private function messageRepository(): MessageRepository
    {
        return new MessageRepository($this->app->database()->pdo());
    }
}
