#pragma once
#include "mail-catalog.h"
