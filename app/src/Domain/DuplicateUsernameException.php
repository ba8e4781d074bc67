<?php

declare(strict_types=1);

namespace StackGuard\Domain;

final class DuplicateUsernameException extends \RuntimeException
{
}
